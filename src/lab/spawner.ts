/**
 * @module lab/spawner
 * Runs the lab's many short commands (probes, readiness checks, CNI plugins, echo servers) through
 * one small perl process that forks them, instead of forking this Node process for each.
 *
 * Why: Node forks its whole address space to start a child, and on a VM that costs ~10 ms of
 * blocked event loop per child even for /bin/true, ~95 ms with the machine busy; a 100-node lab
 * check starts ~300 children and spent 29 of its 35 CPU-seconds inside `spawn`. perl is ~5 MiB,
 * so its fork is cheap, and perl-base is in every Debian and Ubuntu install.
 *
 * Protocol, one line per job on the spawner's stdin, fields separated by spaces, each hex:
 *   id timeout-seconds detach stdin log cwd env-count env... argv...
 * (empty log/cwd: none; env-count "-" keeps the spawner's environment). For a waited job the
 * spawner answers "id exit-code signal" once it ends, its stdout and stderr in <dir>/<id>.out and
 * .err; for a detached one (a new session, output appended to `log` or to /dev/null, never waited
 * for here) "id 0 0 pid" at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SPAWNER = String.raw`
use strict;
use POSIX ();
my $dir = shift;
$| = 1;
my %job;
my $buf = '';
my $eof = 0;
$SIG{CHLD} = sub {};
while (!$eof || %job) {
  my $rin = '';
  vec($rin, fileno(STDIN), 1) = 1 unless $eof;
  # A child's end interrupts select (SIGCHLD); the timeout only backs that up while jobs run.
  my $n = select(my $rout = $rin, undef, undef, %job ? 0.05 : undef);
  if ($n > 0) {
    my $r = sysread(STDIN, $buf, 65536, length $buf);
    $eof = 1 unless $r;
    start($1) while $buf =~ s/^([^\n]*)\n//;
  }
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $id = delete $job{$pid};
    next unless defined $id;
    my $st = $?;
    printf "%s %d %d\n", $id, ($st & 127) ? -1 : $st >> 8, $st & 127;
  }
}
unlink glob("$dir/*");
rmdir $dir;

sub start {
  my ($id, $timeout, $detach, $in, $log, $cwd, $nenv, @rest) = split / /, shift, -1;
  $_ = pack('H*', $_) for ($id, $timeout, $detach, $in, $log, $cwd, $nenv, @rest);
  my @env = $nenv eq '-' ? () : splice(@rest, 0, $nenv);
  if ($in ne '') {
    open(my $f, '>', "$dir/$id.in") or die "spawner: $dir/$id.in: $!";
    print $f $in;
    close $f;
  }
  my $pid = fork;
  if (!defined $pid) {
    printf "%s %d %d\n", $id, 127, 0;
    return;
  }
  if ($pid == 0) {
    $SIG{CHLD} = 'DEFAULT';
    open(STDIN, '<', $in ne '' ? "$dir/$id.in" : '/dev/null');
    if ($detach) {
      POSIX::setsid();
      open(STDOUT, '>>', $log ne '' ? $log : '/dev/null');
      open(STDERR, '>&', \*STDOUT);
    } else {
      open(STDOUT, '>', "$dir/$id.out");
      open(STDERR, '>', "$dir/$id.err");
    }
    if ($nenv ne '-') {
      %ENV = ();
      for (@env) { my ($k, $v) = split /=/, $_, 2; $ENV{$k} = $v; }
    }
    if ($cwd ne '' && !chdir $cwd) {
      print STDERR "cannot change to $cwd: $!\n";
      POSIX::_exit(127);
    }
    alarm $timeout if $timeout > 0 && !$detach;
    exec { $rest[0] } @rest;
    print STDERR "cannot run $rest[0]: $!\n";
    POSIX::_exit(127);
  }
  if ($detach) {
    printf "%s 0 0 %d\n", $id, $pid;
  } else {
    $job{$pid} = $id;
  }
}
`;

export interface RunOptions {
  /** Ended with SIGALRM after this long (default 60 s). */
  readonly timeoutMs?: number;
  /** The whole environment of the command; default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin (default: /dev/null). */
  readonly input?: string;
  /** The directory it runs in (default: this process's). */
  readonly cwd?: string;
}

export interface LaunchOptions extends Omit<RunOptions, 'timeoutMs' | 'input'> {
  /** The file its stdout and stderr are appended to (default: /dev/null). */
  readonly log?: string;
}

export interface RunResult {
  /** The exit code; null when a signal ended it (a timeout is SIGALRM). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface Pending {
  resolve(answer: string[]): void;
  reject(err: Error): void;
}

const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

/** The pipe ends of a child are sockets: they can stop holding this process's event loop open. */
type Handle = { ref(): void; unref(): void };
const handle = (stream: unknown): Handle | undefined => stream as Handle | undefined;

const SIGNALS = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

class Spawner {
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #dead: Error | undefined;

  constructor() {
    this.#dir = mkdtempSync(join(tmpdir(), 'flannel-ts-spawner-'));
    this.#child = spawn('perl', ['-e', SPAWNER, this.#dir], { stdio: ['pipe', 'pipe', 'inherit'] });
    // Nothing of it keeps this process alive while no job waits; its stdin closing at our exit ends it.
    this.#child.unref();
    handle(this.#child.stdin)?.unref();
    handle(this.#child.stdout)?.unref();
    this.#child.stdin?.on('error', () => undefined);
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const [id, ...rest] = line.split(' ');
      const p = this.#pending.get(Number(id));
      if (!p) return;
      this.#pending.delete(Number(id));
      this.#idle();
      p.resolve(rest);
    });
    this.#child.on('error', (err) => this.#fail(new Error(`the lab's process spawner (perl) could not start: ${err.message}; perl is in the perl-base package`)));
    this.#child.on('exit', (code, signal) => this.#fail(new Error(`the lab's process spawner (perl) ended (${signal ?? `exit ${code}`})`)));
  }

  get dead(): boolean {
    return this.#dead !== undefined;
  }

  #fail(err: Error): void {
    this.#dead ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #idle(): void {
    if (this.#pending.size === 0) handle(this.#child.stdout)?.unref();
  }

  #send(argv: readonly string[], o: RunOptions & { log?: string }, detach: boolean): { id: number; answer: Promise<string[]> } {
    if (this.#dead) throw this.#dead;
    const id = this.#next++;
    const env = o.env === undefined ? undefined : Object.entries(o.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    const timeout = String(Math.max(1, Math.ceil((o.timeoutMs ?? 60_000) / 1000)));
    const fields = [String(id), timeout, detach ? '1' : '', o.input ?? '', o.log ?? '', o.cwd ?? '', env === undefined ? '-' : String(env.length), ...(env ?? []), ...argv];
    const answer = new Promise<string[]>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    handle(this.#child.stdout)?.ref();
    this.#child.stdin?.write(`${fields.map(hex).join(' ')}\n`);
    return { id, answer };
  }

  async run(argv: readonly string[], o: RunOptions): Promise<RunResult> {
    const { id, answer } = this.#send(argv, o, false);
    const [code = '127', signal = '0'] = await answer;
    const read = (ext: string): string => {
      try {
        return readFileSync(join(this.#dir, `${id}.${ext}`), 'utf8');
      } catch {
        return '';
      }
    };
    const result: RunResult = { code: signal === '0' ? Number(code) : null, signal: SIGNALS.get(Number(signal)) ?? null, stdout: read('out'), stderr: read('err') };
    for (const ext of ['in', 'out', 'err']) rmSync(join(this.#dir, `${id}.${ext}`), { force: true });
    return result;
  }

  async launch(argv: readonly string[], o: LaunchOptions): Promise<number> {
    const { id, answer } = this.#send(argv, o, true);
    const [, , pid] = await answer;
    rmSync(join(this.#dir, `${id}.in`), { force: true });
    return Number(pid);
  }
}

let shared: Spawner | undefined;
const spawner = (): Spawner => {
  if (!shared || shared.dead) shared = new Spawner();
  return shared;
};

/** Runs `argv` to its end and collects what it printed; never rejects for the command's own failure. */
export function run(argv: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  return spawner().run(argv, o);
}

/** Starts `argv` in a session of its own, not waited for (a server); resolves to its pid. */
export function launch(argv: readonly string[], o: LaunchOptions = {}): Promise<number> {
  return spawner().launch(argv, o);
}
