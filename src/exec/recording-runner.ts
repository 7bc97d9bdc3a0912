/**
 * @module exec/recording-runner
 * A CommandRunner that runs nothing: it records each call and answers from a responder, so tests
 * can assert the exact scripts an engine would feed to iptables-restore or nft.
 */
import type { CommandRunner, RunOptions, RunResult } from './runner.ts';

export interface RecordedCall {
  command: string;
  args: string[];
  stdin?: string;
}

/** Answers a call; returning undefined means success with empty output. */
export type Responder = (call: RecordedCall) => Partial<RunResult> | undefined;

export interface RecordingRunner extends CommandRunner {
  readonly calls: RecordedCall[];
  /** The calls as `command arg arg` lines, for compact assertions. */
  lines(): string[];
}

export function recordingRunner(respond: Responder = () => undefined): RecordingRunner {
  const calls: RecordedCall[] = [];
  return {
    calls,
    lines: () => calls.map((c) => [c.command, ...c.args].join(' ')),
    async run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
      options.signal?.throwIfAborted();
      const call: RecordedCall = { command, args: [...args], ...(options.stdin === undefined ? {} : { stdin: options.stdin }) };
      calls.push(call);
      const res = respond(call) ?? {};
      return { stdout: res.stdout ?? '', stderr: res.stderr ?? '', code: res.code ?? 0 };
    },
  };
}
