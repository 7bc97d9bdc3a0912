/**
 * Not a test: the least a CNI meta-plugin in bun must do per call, for test/perf/cni-cost.sh to
 * measure beside the flannel plugin. It reads stdin, parses it, saves the configuration it hands
 * on (ADD) and runs the delegate (`bridge` in the first CNI_PATH directory) with that file as its
 * stdin; DEL captures the delegate's output and removes the file. No checks, no subnet.env, no
 * error results: whatever the flannel plugin costs above this is its own code.
 */
interface MiniBun {
  stdin: { slice(start: number, end: number): { bytes(): Promise<Uint8Array> } };
  file(path: string): { delete(): Promise<void> };
  write(path: string, data: string): Promise<number>;
  spawnSync(cmd: string[], options: { stdin: unknown; stdout: 'inherit' | 'pipe'; stderr: 'inherit'; env: Record<string, string | undefined> }): { exitCode: number | null };
}

const bun = (globalThis as unknown as { Bun: MiniBun }).Bun;
const env = process.env;

async function main(): Promise<number> {
  const conf = JSON.parse(new TextDecoder().decode(await bun.stdin.slice(0, 1048577).bytes())) as { dataDir?: string };
  const saved = `${conf.dataDir ?? '/var/lib/cni/flannel'}/${env.CNI_CONTAINERID ?? ''}`;
  const delegate = `${(env.CNI_PATH ?? '').split(':')[0] ?? ''}/bridge`;
  if (env.CNI_COMMAND === 'ADD') await bun.write(saved, JSON.stringify({ ...conf, type: 'bridge' }));
  const run = bun.spawnSync([delegate], { stdin: bun.file(saved), stdout: env.CNI_COMMAND === 'ADD' ? 'inherit' : 'pipe', stderr: 'inherit', env: { ...env } });
  if (env.CNI_COMMAND === 'DEL') await bun.file(saved).delete();
  return run.exitCode ?? 1;
}

void main().then((code) => process.exit(code));
