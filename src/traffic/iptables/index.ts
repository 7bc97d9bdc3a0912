export { IptablesEngine } from './engine.ts';
export { masqChain, forwardChain, MASQ_CHAIN, FORWARD_CHAIN, MASQ_COMMENT, FORWARD_COMMENT, type ChainSpec, type ChainRef } from './rules.ts';
export { parseSave, type TableDump } from './save-parser.ts';
export { diffChain, ensureBlock, removalBlock } from './plan.ts';
export { parseIptablesVersion, type IptablesCaps } from './version.ts';
