#!/usr/bin/env bash
# Installs everything flannel-ts needs on a fresh Debian machine (as root) and builds it.
# Safe to run again: apt and npm skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for pair in etcd:etcd-server etcdctl:etcd-client ip:iproute2 bridge:iproute2 iptables:iptables nft:nftables \
            conntrack:conntrack ping:iputils-ping fping:fping curl:curl iperf3:iperf3 ethtool:ethtool tcpdump:tcpdump \
            /usr/lib/cni/bridge:containernetworking-plugins wg:wireguard-tools wireguard-go:wireguard-go \
            g++:g++ make:make python3:python3 prometheus:prometheus chromium:chromium; do
  bin=${pair%%:*}; pkg=${pair#*:}
  if [[ $bin == /* ]]; then [[ -e $bin ]] || need_pkgs+=("$pkg"); else command -v "$bin" >/dev/null 2>&1 || need_pkgs+=("$pkg"); fi
done
if ((${#need_pkgs[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages ${need_pkgs[*]}; run as root (or: sudo apt-get install ${need_pkgs[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Daemons the packages ship (etcd-server, prometheus) must not start: the tests start their own,
  # inside network namespaces. A policy-rc.d that says "no" (101) stops invoke-rc.d and
  # deb-systemd-invoke from starting them during the install; one already there is left alone.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    trap 'rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# scripts/setup.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
    chmod 755 "$policy"
  fi
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need_pkgs[@]}" | sort -u) >/dev/null
  if [[ $(trap -p EXIT) ]]; then rm -f "$policy"; trap - EXIT; fi
fi
# Debian's prometheus enables its service for the next boot; the tests run prometheus themselves.
# With systemd running, also stop it now (a policy-rc.d that allowed the start, or an older install).
if [[ -e /etc/systemd/system/multi-user.target.wants/prometheus.service ]] && command -v systemctl >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then
    if [[ -d /run/systemd/system ]]; then systemctl disable --now --quiet prometheus.service; else systemctl disable --quiet prometheus.service; fi
    echo "setup: disabled the prometheus service (the tests start their own prometheus)"
  fi
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: building"
npm run --silent build
npm run --silent build:cni
