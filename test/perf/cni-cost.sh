#!/bin/bash
# By hand, not a test: what the compiled flannel CNI plugin costs above bun's start-up, split into
# what any bun plugin must pay (test/perf/cni-minimal-plugin.ts: read stdin, save the file, run the
# delegate) and what our own code adds on top. The delegate is /bin/true under the name `bridge`,
# so nothing touches the network: the calls run in this namespace with a made-up CNI_NETNS.
# Also prints page faults per call (/usr/bin/time), which is what the time is on this VM.
# usage: bash test/perf/cni-cost.sh [rounds]   (from the repository root, after npm ci)
set -euo pipefail
ROUNDS=${1:-60}
D=$(mktemp -d /tmp/cni-cost.XXXXXX)
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/bin" "$D/data"
ln -s /bin/true "$D/bin/bridge"
printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.5.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' > "$D/subnet.env"
printf '{"cniVersion":"1.0.0","name":"cbr0","type":"flannel","subnetFile":"%s","dataDir":"%s","delegate":{"hairpinMode":true,"isDefaultGateway":true}}\n' "$D/subnet.env" "$D/data" > "$D/conf.json"
node scripts/build-cni.mjs --outfile "$D/flannel" >/dev/null
node scripts/build-cni.mjs --empty --outfile "$D/empty" >/dev/null
node scripts/build-cni.mjs --entry test/perf/cni-minimal-plugin.ts --outfile "$D/minimal" >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
perl test/perf/cni-cost.pl "$ROUNDS" "$D/conf.json" "$D/bin" "$D/empty" "$D/bin/bridge" "$D/minimal" "$D/flannel"
faults() {
  local sum=0 n=5
  for i in $(seq $n); do
    sum=$((sum + $(CNI_COMMAND=$2 CNI_CONTAINERID=faults-$(basename "$1")-$i CNI_NETNS=/var/run/netns/cni-cost CNI_IFNAME=eth0 CNI_PATH="$D/bin" /usr/bin/time -f %R "$1" < "$D/conf.json" 2>&1 >/dev/null | tail -1)))
  done
  echo $((sum / n))
}
for c in ADD DEL; do
  echo "page faults per $c (mean of 5, delegate included): empty $(faults "$D/empty" $c), minimal $(faults "$D/minimal" $c), flannel $(faults "$D/flannel" $c); /bin/true alone $(faults /bin/true $c)"
done
leftover=$(ls "$D/data" | wc -l)
[ "$leftover" -eq 0 ] || echo "note: $leftover saved files left by the fault counts' ADD without DEL (removed with $D)"
