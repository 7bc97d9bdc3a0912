# syntax=docker/dockerfile:1
# The flannel-ts image: flanneld (Node 20) with the udp backend's TUN addon, and the compiled
# flannel CNI plugin, with the tools flanneld runs (iptables, nft, ip, ethtool), wireguard-go for
# nodes whose kernel has no WireGuard (and wg to look at the devices), and the reference CNI
# plugins (bridge, host-local, portmap, loopback) that the DaemonSet's install-cni-plugin
# container puts on nodes lacking them.
# Paths must match src/deploy/image-layout.ts (test/integration/deploy-image.test.ts checks).
#   docker build -t flannel-ts:0.1.0 .

# --- build: compile TypeScript to dist/, the TUN addon (node-gyp), and the CNI plugin to one
# executable (bun --compile)
FROM node:20-bookworm-slim AS build
# node-gyp's toolchain for native/tun; Node's headers come with the image (/usr/local/include/node).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: netlink's install script would run node-gyp, but the package ships its prebuilt
# addon (that is what loads); bun's platform package holds its binary without a postinstall; and
# our own install script (the TUN addon) needs native/, which is not copied yet: build:native
# below builds it.
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build:native \
 && npm run build \
 && npm run build:cni \
 && mkdir -p /out \
 && mv dist/bin/flannel /out/flannel

# --- deps: the production dependencies only
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts

# --- runtime
FROM node:20-bookworm-slim
# --no-install-recommends matters for wireguard-tools: it recommends a kernel (wireguard-modules).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      iptables nftables iproute2 ethtool containernetworking-plugins ca-certificates \
      wireguard-go wireguard-tools \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Only the addon itself: src/tun/addon.ts finds it in native/tun/build/Release above dist/.
COPY --from=build /src/native/tun/build/Release/flannel_tun.node ./native/tun/build/Release/flannel_tun.node
COPY --from=build /out/flannel /opt/bin/flannel
COPY --chmod=0755 deploy/image/flanneld /opt/bin/flanneld
ENTRYPOINT ["/opt/bin/flanneld"]
