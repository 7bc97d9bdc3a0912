/**
 * @module lab/fanout
 * Probing many targets from one network namespace with one or two processes, not one per pair:
 * ICMP with fping (every target in one run), TCP with one perl process that opens every
 * connection at once. This is what keeps a 100-node lab's checks within seconds.
 */
import { ECHO_PORT } from './probe.ts';
import { run } from './spawner.ts';

/** Runs `argv` in `ns` and collects its output; never rejects (a failure is in `code`, null for a signal or the timeout). */
export async function runIn(ns: string, argv: readonly string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  try {
    const { code, stdout, stderr } = await run(['ip', 'netns', 'exec', ns, ...argv], { timeoutMs });
    return { code, stdout, stderr };
  } catch (err) {
    return { code: null, stdout: '', stderr: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * fping's verdict per target, from `fping -e` output ("<ip> is alive (0.10 ms)" / "<ip> is
 * unreachable"); a target fping did not mention is unreachable.
 */
export function parseFping(output: string, targets: readonly string[]): Map<string, boolean> {
  const alive = new Set<string>();
  for (const line of output.split('\n')) {
    const m = /^(\S+) is alive\b/.exec(line.trim());
    if (m?.[1]) alive.add(m[1]);
  }
  return new Map(targets.map((t) => [t, alive.has(t)]));
}

/** ICMP echo from `ns` to every target at once (one fping: 1 retry, 1.5 s per try). */
export async function pingAll(ns: string, targets: readonly string[]): Promise<Map<string, boolean>> {
  if (targets.length === 0) return new Map();
  const r = await runIn(ns, ['fping', '-e', '-r', '1', '-t', '1500', '-i', '1', ...targets]);
  if (r.code === null || (r.code > 1 && !/is (alive|unreachable)/.test(r.stdout))) {
    throw new Error(`fping in ${ns} failed (exit ${r.code ?? 'none'}): ${r.stderr.trim().split('\n')[0] ?? ''}; is fping installed (bash scripts/setup.sh)?`);
  }
  return parseFping(r.stdout, targets);
}

/**
 * The TCP prober: an exchange with every target's echo server (port ECHO_PORT) at once, from one
 * process multiplexing non-blocking sockets; prints "<ip> ok|fail" lines, every target within
 * ~4 s. perl with its core Socket module only (IO::Socket::IP alone takes ~40 ms to load, a fork
 * per target more): a Node process per source pod had cost a 100-node lab ~15 s of CPU.
 * A function, not a constant: probe.ts and this module import each other.
 */
const tcpProber = (): string => `
use strict;
use Socket qw(AF_INET AF_INET6 SOCK_STREAM SOL_SOCKET SO_ERROR inet_pton pack_sockaddr_in pack_sockaddr_in6);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
my %conn;
for my $ip (@ARGV) {
  my $family = $ip =~ /:/ ? AF_INET6 : AF_INET;
  my $addr = inet_pton($family, $ip);
  my $s;
  if ($addr && socket($s, $family, SOCK_STREAM, 0)) {
    fcntl($s, F_SETFL, fcntl($s, F_GETFL, 0) | O_NONBLOCK);
    my $to = $family == AF_INET6 ? pack_sockaddr_in6(${ECHO_PORT}, $addr) : pack_sockaddr_in(${ECHO_PORT}, $addr);
    if (connect($s, $to) || $!{EINPROGRESS}) {
      $conn{$ip} = { s => $s, connected => 0, got => '' };
      next;
    }
  }
  print "$ip fail\\n";
}
my $deadline = time + 4;
while (%conn && time < $deadline) {
  my ($rin, $win) = ('', '');
  vec($_->{connected} ? $rin : $win, fileno $_->{s}, 1) = 1 for values %conn;
  next if select(my $rout = $rin, my $wout = $win, undef, 0.5) <= 0;
  for my $ip (keys %conn) {
    my $c = $conn{$ip};
    my $fd = fileno $c->{s};
    if (!$c->{connected} && vec($wout, $fd, 1)) {
      if (unpack('i', getsockopt($c->{s}, SOL_SOCKET, SO_ERROR))) {
        print "$ip fail\\n";
        delete $conn{$ip};
        next;
      }
      syswrite($c->{s}, 'probe');
      shutdown($c->{s}, 1);
      $c->{connected} = 1;
    } elsif ($c->{connected} && vec($rout, $fd, 1)) {
      my $n = sysread($c->{s}, $c->{got}, 4096, length $c->{got});
      next if !defined $n && $!{EAGAIN};
      next if $n;
      print "$ip ", ($c->{got} eq 'echo:probe' ? 'ok' : 'fail'), "\\n";
      delete $conn{$ip};
    }
  }
}
print "$_ fail\\n" for keys %conn;
`;

export function parseTcpProbe(output: string, targets: readonly string[]): Map<string, boolean> {
  const ok = new Set<string>();
  for (const line of output.split('\n')) {
    const [ip, verdict] = line.trim().split(' ');
    if (ip && verdict === 'ok') ok.add(ip);
  }
  return new Map(targets.map((t) => [t, ok.has(t)]));
}

/** A TCP exchange from `ns` with every target's echo server at once (one perl process). */
export async function tcpAll(ns: string, targets: readonly string[]): Promise<Map<string, boolean>> {
  if (targets.length === 0) return new Map();
  const r = await runIn(ns, ['perl', '-e', tcpProber(), ...targets]);
  return parseTcpProbe(r.stdout, targets);
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping the order of the results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** "58 s" since `since` (a Date.now()), for the last line of a progress counter. */
export function secondsSince(since: number): string {
  return `${Math.round((Date.now() - since) / 1000)} s`;
}
