/**
 * @module lab/probe
 * Reachability probes between namespaces: ICMP with ping, TCP with a tiny echo server on port
 * 7000 in every pod. The server is perl (perl-base, in every Debian and Ubuntu install): it starts
 * in a few ms and holds ~5 MiB, where a Node one took ~0.15 s of CPU and ~40 MiB per pod, a
 * tenth of a 100-node lab's memory.
 */
import { runIn } from './fanout.ts';
import { nsExec } from './netns.ts';

export const ECHO_PORT = 7000;

/**
 * Listens, then goes to the background and exits 0, so whoever ran it knows the server listens
 * (exit 1 with the reason when it cannot). The server answers the first chunk a connection sends
 * with "echo:" + that chunk, then closes it; a child per connection, so a client that connects
 * and sends nothing holds up no other (it gets 10 s). It listens on :: for both families, or on
 * 0.0.0.0 where the pod has IPv6 disabled. Core perl only (Socket, POSIX): it starts in ~10 ms.
 */
const ECHO_SERVER = `
use strict;
use Socket qw(AF_INET AF_INET6 SOCK_STREAM SOL_SOCKET SO_REUSEADDR IPPROTO_IPV6 IPV6_V6ONLY INADDR_ANY pack_sockaddr_in pack_sockaddr_in6);
use POSIX ();
sub listener {
  my ($family) = @_;
  socket(my $s, $family, SOCK_STREAM, 0) or return;
  setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1);
  setsockopt($s, IPPROTO_IPV6, IPV6_V6ONLY, 0) if $family == AF_INET6;
  my $any = $family == AF_INET6 ? pack_sockaddr_in6(${ECHO_PORT}, "\\0" x 16) : pack_sockaddr_in(${ECHO_PORT}, INADDR_ANY);
  return bind($s, $any) && listen($s, 1024) ? $s : undef;
}
my $s = listener(AF_INET6) || listener(AF_INET) or die "echo server: cannot listen on port ${ECHO_PORT}: $!\\n";
my $pid = fork;
die "echo server: cannot fork: $!\\n" unless defined $pid;
POSIX::_exit(0) if $pid;
POSIX::setsid();
open(STDIN, '<', '/dev/null');
open(STDOUT, '>', '/dev/null');
open(STDERR, '>', '/dev/null');
$SIG{CHLD} = 'IGNORE';
while (1) {
  accept(my $c, $s) or next;
  my $child = fork;
  if (defined $child && $child == 0) {
    close $s;
    alarm 10;
    my $d = '';
    sysread($c, $d, 65536);
    syswrite($c, "echo:$d");
    POSIX::_exit(0);
  }
  close $c;
}
`;

/** Starts the echo server in `ns` (it dies with the namespace's processes); returns once it listens. */
export function startEchoServer(ns: string): void {
  nsExec(ns, 'perl', ['-e', ECHO_SERVER]);
}

/** startEchoServer without blocking: many pods' servers start side by side. */
export async function startEchoServerAsync(ns: string, timeoutMs = 30_000): Promise<void> {
  const r = await runIn(ns, ['perl', '-e', ECHO_SERVER], timeoutMs);
  if (r.code !== 0) throw new Error(`the TCP echo server in ${ns} did not start listening on port ${ECHO_PORT}: ${r.stderr.trim() || `exit ${r.code ?? 'by a signal'}`}`);
}

/** One TCP exchange from `ns` to `ip`:7000; returns what came back (throws on failure). */
export function tcpExchange(ns: string, ip: string, payload: string, timeoutMs = 3000): string {
  const client = `const c = require('node:net').connect(${ECHO_PORT}, '${ip}', () => c.end('${payload}')); c.setTimeout(${timeoutMs}, () => { console.error('timeout'); process.exit(1); }); c.on('data', (d) => process.stdout.write(d)); c.on('error', (e) => { console.error(e.message); process.exit(1); });`;
  return nsExec(ns, process.execPath, ['-e', client]);
}

export function ping(ns: string, ip: string, count = 1): void {
  nsExec(ns, 'ping', ['-c', String(count), '-W', '2', '-i', '0.2', ip]);
}

export function canPing(ns: string, ip: string): boolean {
  try {
    ping(ns, ip);
    return true;
  } catch {
    return false;
  }
}

export function canTcp(ns: string, ip: string): boolean {
  try {
    return tcpExchange(ns, ip, 'probe') === 'echo:probe';
  } catch {
    return false;
  }
}
