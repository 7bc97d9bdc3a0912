#!/usr/bin/env bash
# The main job: install what is needed, then build a 3-node flannel cluster in network namespaces
# on this machine (etcd, flanneld per node, pods through the CNI plugin) and print the pod-to-pod
# connectivity matrix and commands to try on it. Arguments go to "flannel-ts lab up" (e.g.
# --backend host-gw --nodes 4; --replace to rebuild a lab that is already up with other options).
# Run again with the same arguments, it re-probes the running lab instead of rebuilding it.
# Afterwards (from this checkout): node dist/cli/flannel-ts.js lab check | status | down, or
# node dist/cli/flannel-ts.js lab exec <node|pod> -- <command>; lab --help lists everything.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then echo "main: the lab creates network namespaces; run as root" >&2; exit 1; fi
bash scripts/setup.sh
exec node dist/cli/flannel-ts.js lab up "$@"
