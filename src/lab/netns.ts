/**
 * Network namespaces for the lab and the tests: every name carries a per-run prefix so runs never collide and
 * cleanup can find leftovers. Nothing here touches the root namespace except creating/deleting
 * namespaces and moving veth ends into them.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where `ip netns` keeps its namespaces' bind mounts. */
const NETNS_DIR = '/run/netns';

export function uniquePrefix(base = 'flt'): string {
  return `${base}${randomBytes(3).toString('hex')}`;
}

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs a command inside `ns`, returning stdout; throws with stderr on failure. */
export function nsExec(ns: string, cmd: string, args: string[] = [], input?: string): string {
  try {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], input);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`[${ns}] ${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

export function nsSpawn(ns: string, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

export class Netns {
  readonly name: string;
  /** Refers to an existing namespace; use Netns.create to make one. */
  constructor(name: string) {
    this.name = name;
  }

  static create(name: string): Netns {
    sh('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    ns.exec('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  exec(cmd: string, args: string[] = [], input?: string): string {
    return nsExec(this.name, cmd, args, input);
  }

  /** `ip -j ...` parsed. */
  ipJson<T = unknown>(args: string[]): T {
    const out = this.exec('ip', ['-j', ...args]).trim();
    return (out === '' ? [] : JSON.parse(out)) as T;
  }

  sysctl(key: string, value: string): void {
    this.exec('sysctl', ['-qw', `${key}=${value}`]);
  }

  spawn(cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return nsSpawn(this.name, cmd, args, options);
  }

  delete(): void {
    killProcessesIn(this.name);
    try {
      sh('ip', ['netns', 'delete', this.name]);
    } catch {
      /* already gone */
    }
  }
}

/** Kills every process whose network namespace is `ns` (left over by a crashed test). */
export function killProcessesIn(ns: string): void {
  try {
    const pids = sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* exited */
      }
    }
  } catch {
    /* namespace gone */
  }
}

/**
 * A node as a real machine has it: its own network namespace and its own /run. Every process run
 * on the node gets a private mount namespace with the node's `runDir` bind-mounted on /run (so
 * on /var/run too), so /run/flannel/subnet.env, /run/flannel/wgkey, /var/run/wireguard/*.sock and
 * /run/xtables.lock are per node and never collide between nodes on one machine. The mount
 * namespace lives as long as its process; /run's content lives in `runDir`, so a restarted
 * flanneld and a later `lab exec` see the same files and sockets. From outside, the node's
 * /run/X is `<runDir>/X`.
 */
export class Machine {
  readonly ns: Netns;
  readonly runDir: string;

  constructor(ns: string | Netns, runDir: string) {
    this.ns = typeof ns === 'string' ? new Netns(ns) : ns;
    this.runDir = runDir;
  }

  /** The command line that runs `cmd args` on this machine. */
  argv(cmd: string, args: readonly string[] = []): string[] {
    mkdirSync(this.runDir, { recursive: true });
    return ['ip', 'netns', 'exec', this.ns.name, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$0" /run && exec "$@"', this.runDir, cmd, ...args];
  }

  /** Where the machine's `/run/...` path is seen from outside. */
  outside(runPath: string): string {
    if (!runPath.startsWith('/run/')) throw new Error(`${runPath} is not under /run`);
    return join(this.runDir, runPath.slice('/run/'.length));
  }

  exec(cmd: string, args: readonly string[] = [], input?: string): string {
    const [ip = 'ip', ...rest] = this.argv(cmd, args);
    try {
      return sh(ip, rest, input);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`[${this.ns.name}] ${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
    }
  }

  spawn(cmd: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const [ip = 'ip', ...rest] = this.argv(cmd, args);
    return spawn(ip, rest, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  }
}

/**
 * Removes many namespaces at once: one pass over /proc kills every process in any of them (a
 * process's /proc/PID/ns/net names the namespace's inode, which `stat` of its bind mount in
 * /run/netns gives), then one `ip -batch` deletes them all. For a 100-node lab this is a second,
 * where a kill and a delete per namespace took minutes.
 */
export function removeNamespaces(names: readonly string[]): void {
  if (names.length === 0) return;
  for (const pid of pidsIn(names)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited */
    }
  }
  try {
    sh('ip', ['-force', '-batch', '-'], names.map((n) => `netns delete ${n}\n`).join(''));
  } catch {
    /* some were gone already: -force went on with the others */
  }
}

/** Every process whose network namespace is one of `names`, from one pass over /proc. */
export function pidsIn(names: readonly string[]): number[] {
  const inodes = new Set<string>();
  for (const n of names) {
    try {
      inodes.add(`net:[${statSync(join(NETNS_DIR, n)).ino}]`);
    } catch {
      /* already gone */
    }
  }
  const pids: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (inodes.has(readlinkSync(`/proc/${pid}/ns/net`))) pids.push(Number(pid));
    } catch {
      /* exited, or not ours to read */
    }
  }
  return pids;
}

/** Deletes every namespace whose name starts with `prefix`. */
export function deleteNamespaces(prefix: string): void {
  const names = sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
  for (const n of names) {
    killProcessesIn(n);
    try {
      sh('ip', ['netns', 'delete', n]);
    } catch {
      /* raced */
    }
  }
}

/**
 * Connects `ns` to a bridge that lives in the `switchNs` namespace with a veth pair, giving the
 * node end `ifname` and `cidr` (e.g. "192.0.2.11/24"). The pair is created inside the switch
 * namespace, so the root namespace never sees it.
 */
export function attachToSwitch(opts: { switchNs: Netns; bridge: string; ns: Netns; ifname: string; cidr: string; peerName: string; mtu?: number; mac?: string }): void {
  const { switchNs, bridge, ns, ifname, cidr, peerName } = opts;
  switchNs.exec('ip', ['link', 'add', peerName, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns.name]);
  if (opts.mac) ns.exec('ip', ['link', 'set', ifname, 'address', opts.mac]);
  switchNs.exec('ip', ['link', 'set', peerName, 'master', bridge, 'up']);
  if (opts.mtu) {
    switchNs.exec('ip', ['link', 'set', peerName, 'mtu', String(opts.mtu)]);
    ns.exec('ip', ['link', 'set', ifname, 'mtu', String(opts.mtu)]);
  }
  ns.exec('ip', ['addr', 'add', cidr, 'dev', ifname]);
  ns.exec('ip', ['link', 'set', ifname, 'up']);
}

/** A switch namespace holding one bridge. */
export function createSwitch(name: string, bridge = 'br0'): Netns {
  const sw = Netns.create(name);
  sw.exec('ip', ['link', 'add', bridge, 'type', 'bridge']);
  sw.exec('ip', ['link', 'set', bridge, 'up']);
  return sw;
}
