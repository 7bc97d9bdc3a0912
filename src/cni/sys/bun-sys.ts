/**
 * @module cni/sys/bun-sys
 * The Sys calls in the compiled plugin, on bun's own APIs only (see sys.ts for what the others
 * cost). GC's directory listing, the one call bun has no API for, loads node:fs.
 */
import { nodeFs } from './node-sys.ts';
import type { ChildEnd, Sys } from './sys.ts';

interface BunFile {
  text(): Promise<string>;
  delete(): Promise<void>;
}
interface BunSubprocess {
  exited: Promise<number>;
  exitCode: number | null;
  signalCode: string | null;
}
interface BunSyncSubprocess {
  stdout: Uint8Array;
  exitCode: number | null;
  signalCode?: string | null;
}
interface BunApi {
  stdin: BunFile;
  stdout: BunFile;
  stderr: BunFile;
  file(path: string): BunFile;
  write(dest: string | BunFile, data: string): Promise<number>;
  which(cmd: string, options: { PATH: string; cwd: string }): string | null;
  spawnSync(cmd: string[], options: { stdin: Uint8Array; stdout: 'pipe'; stderr: 'inherit'; env: Record<string, string> }): BunSyncSubprocess;
  spawn(cmd: string[], options: { stdin: BunFile; stdout: 'inherit'; stderr: 'inherit'; env: Record<string, string> }): BunSubprocess;
}

export function bunSys(): Sys | undefined {
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  if (!bun) return undefined;
  return {
    readStdin: () => bun.stdin.text(),
    readText: (path) => bun.file(path).text(),
    async writePrivate(path, data) {
      // Bun.write creates missing parents itself and takes no mode: the umask gives 0600 / 0700.
      // Nothing else runs in this process meanwhile, and the delegate starts after it is restored.
      const previous = process.umask(0o077);
      try {
        await bun.write(path, data);
      } finally {
        process.umask(previous);
      }
    },
    unlink: (path) => bun.file(path).delete(),
    readdir: (path) => nodeFs().readdirSync(path),
    findExecutable: (name, dirs) => bun.which(name, { PATH: dirs.join(':'), cwd: '/' }) ?? undefined,
    runCaptured(path, stdin, env) {
      // Bun's own spawn is ~3 ms faster per call than its node:child_process layer (measured).
      const p = bun.spawnSync([path], { stdin: new TextEncoder().encode(stdin), stdout: 'pipe', stderr: 'inherit', env });
      return { stdout: new TextDecoder().decode(p.stdout), status: p.exitCode, signal: p.signalCode ?? null };
    },
    writeOut: async (fd, text) => void (await bun.write(fd === 1 ? bun.stdout : bun.stderr, text)),
    async runWithOurOutput(path, stdinFile, env): Promise<ChildEnd> {
      const child = bun.spawn([path], { stdin: bun.file(stdinFile), stdout: 'inherit', stderr: 'inherit', env });
      const status = await child.exited;
      return { status: child.signalCode ? null : status, signal: child.signalCode };
    },
  };
}
