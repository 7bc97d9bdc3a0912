/**
 * @module doctor
 * `flannel-ts doctor`: read-only diagnosis of one node. gather/ reads the facts, checks/ judges
 * them, render.ts prints the report.
 */
export type { CheckResult, CheckSpec, CheckStatus, Report } from './check.ts';
export { exitCodeOf } from './check.ts';
export type { NodeFacts } from './facts.ts';
export { CHECKS } from './checks/index.ts';
export { gatherFacts, type GatherIo, type GatherOptions } from './gather/index.ts';
export { formatJson, formatTable, jsonReport, summarize, summaryLine, type JsonReport, type Summary } from './render.ts';
export { DOCTOR_HELP, DOCTOR_USAGE, DoctorUsageError, formatCheckList, parseDoctorArgs, runChecks, runDoctor, type DoctorArgs, type DoctorIo } from './doctor-command.ts';
