#!/bin/bash
# By hand, not a test: why the bench runs its wireguard-go floor detached. Two hand-built
# wireguard-go tunnels between the same two lab nodes, configured alike: A in this script's
# session (where iperf3 runs too), S in sessions of their own (setsid), as flanneld's children are.
# With CFS autogroup on (/proc/sys/kernel/sched_autogroup_enabled) A carries ~15% more.
# usage: node dist/cli/flannel-ts.js lab --name ag up --backend host-gw --nodes 2 --pods 0
#        bash test/perf/wireguard-autogroup.sh ag [rounds]; then lab --name ag down
set -u
L=$1; R=${2:-6}; D=/tmp/wgag; rm -rf $D; mkdir -p $D
for i in 1 2; do wg genkey > $D/k$i; wg pubkey < $D/k$i > $D/p$i; mkdir -p $D/run$i; done
M(){ ip netns exec $L-n$1 unshare --mount --propagation private sh -c "mount --bind $D/run$1 /run; $2"; }
for i in 1 2; do
  M $i "WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error exec wireguard-go -f wga" >/dev/null 2>&1 &
  setsid -f ip netns exec $L-n$i unshare --mount --propagation private sh -c "mount --bind $D/run$i /run; WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error exec wireguard-go -f wgs" >/dev/null 2>&1
done
for i in 1 2; do while [ ! -S $D/run$i/wireguard/wga.sock ] || [ ! -S $D/run$i/wireguard/wgs.sock ]; do sleep 0.05; done; done
for i in 1 2; do j=$((3-i));
  M $i "wg set wga private-key $D/k$i listen-port 5183$i peer $(cat $D/p$j) endpoint 192.168.50.1$j:5183$j allowed-ips 172.31.249.$j/32"; ip netns exec $L-n$i ip addr add 172.31.249.$i/24 dev wga; ip netns exec $L-n$i ip link set wga mtu 1420 up
  M $i "wg set wgs private-key $D/k$i listen-port 5185$i peer $(cat $D/p$j) endpoint 192.168.50.1$j:5185$j allowed-ips 172.31.248.$j/32"; ip netns exec $L-n$i ip addr add 172.31.248.$i/24 dev wgs; ip netns exec $L-n$i ip link set wgs mtu 1420 up
done
for p in $(pgrep -f "wireguard-go -f wg[as]$"); do echo "$(tr '\0' ' ' < /proc/$p/cmdline) $(cat /proc/$p/autogroup)"; done
ip netns exec $L-n2 iperf3 -s -D -I $D/iperf.pid; sleep 1
ip netns exec $L-n1 ping -c1 -W3 172.31.249.2 >/dev/null; ip netns exec $L-n1 ping -c1 -W3 172.31.248.2 >/dev/null
for r in $(seq $R); do for ip in 172.31.249.2 172.31.248.2; do echo "$ip $(timeout 10 ip netns exec $L-n1 iperf3 -c $ip -t 3 | grep sender | awk '{print $7}')"; done; done | awk '{s[$1]+=$2; n[$1]++; print} END {for (k in s) print "mean", k, s[k]/n[k]}'
kill $(cat $D/iperf.pid); pkill -f "wireguard-go -f wg[as]$"; rm -rf $D
