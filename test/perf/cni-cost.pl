# Used by cni-cost.sh: times CNI calls the way a runtime makes them (a fork, the configuration on
# a pipe, the CNI_* environment), alternating the programs per round so that a change of the
# machine's load hits them alike; prints medians of per-round differences.
# usage: perl cni-cost.pl ROUNDS CONF CNI_PATH EMPTY DELEGATE PROGRAM...
use strict;
use warnings;
use Time::HiRes qw(time);
use POSIX ();
$SIG{PIPE} = 'IGNORE';
my ($rounds, $conf, $cniPath, $empty, $delegate, @programs) = @ARGV;
open my $fh, '<', $conf or die "$conf: $!";
my $data = do { local $/; <$fh> };
close $fh;

sub call {
  my ($program, %env) = @_;
  pipe(my $rd, my $wr) or die "pipe: $!";
  my $t0 = time;
  my $pid = fork // die "fork: $!";
  if ($pid == 0) {
    close $wr;
    POSIX::dup2(fileno $rd, 0);
    @ENV{keys %env} = values %env;
    { exec $program };
    POSIX::_exit(127);
  }
  close $rd;
  syswrite $wr, $data;
  close $wr;
  waitpid $pid, 0;
  my $ms = (time - $t0) * 1000;
  die "$program ($env{CNI_COMMAND}) exited with status " . ($? >> 8) . "\n" if $?;
  return $ms;
}

my %base = (CNI_NETNS => '/var/run/netns/cni-cost', CNI_IFNAME => 'eth0', CNI_PATH => $cniPath);
my (%over, @floor);
for my $r (1 .. $rounds) {
  my %t;
  my @steps = (
    (map { my $p = $_; sub {
      my $id = "cost-$r-" . int(rand(1e9));
      $t{$p}{ADD} = call($p, %base, CNI_COMMAND => 'ADD', CNI_CONTAINERID => $id);
      $t{$p}{DEL} = call($p, %base, CNI_COMMAND => 'DEL', CNI_CONTAINERID => $id);
    } } @programs),
    sub { $t{floor} = call($empty, %base, CNI_COMMAND => 'ADD', CNI_CONTAINERID => "cost-$r") + call($delegate, %base, CNI_COMMAND => 'ADD', CNI_CONTAINERID => "cost-$r") },
  );
  $_->() for ($r % 2 ? @steps : reverse @steps);
  push @floor, $t{floor};
  for my $p (@programs) { push @{$over{$p}{$_}}, $t{$p}{$_} - $t{floor} for qw(ADD DEL) }
}
sub median { my @s = sort { $a <=> $b } @_; return $s[int(@s / 2)] }
printf "floor (empty program + delegate alone): %.2f ms median over %d rounds\n", median(@floor), $rounds;
for my $p (@programs) {
  printf "%-60s ADD %+.2f ms, DEL %+.2f ms above the floor (median of per-round differences)\n", $p, median(@{$over{$p}{ADD}}), median(@{$over{$p}{DEL}});
}
