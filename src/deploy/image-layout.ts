/**
 * @module deploy/image-layout
 * Where things are inside the flannel-ts image (built by the Dockerfile at the repository root)
 * and where the DaemonSet mounts the host's directories. The Dockerfile test checks that the
 * image puts files where these say.
 */

/** Paths inside the image. */
export const IMAGE = {
  /** flanneld (a shell wrapper around node dist/cli/flanneld.js), the image's ENTRYPOINT. */
  flanneld: '/opt/bin/flanneld',
  /** The compiled flannel CNI plugin (dist/bin/flannel from `npm run build:cni`). */
  cniPlugin: '/opt/bin/flannel',
  /** Debian's containernetworking-plugins package installs bridge, host-local, portmap, loopback here. */
  referencePluginsDir: '/usr/lib/cni',
  /** The application: dist/, node_modules/ (production only), native/ (the addon only), package.json. */
  appDir: '/app',
  /**
   * The udp backend's TUN addon (native/tun, built with node-gyp in the build stage), where
   * src/tun/addon.ts looks for it: native/tun/build/Release/ in a directory above dist/.
   */
  tunAddon: '/app/native/tun/build/Release/flannel_tun.node',
  /** wireguard-go (Debian's package), on PATH, where the wireguard backend looks for it when the kernel has no WireGuard. */
  wireguardGo: '/usr/bin/wireguard-go',
} as const;

/** Mount points inside the containers. */
export const MOUNT = {
  run: '/run/flannel',
  config: '/etc/kube-flannel/',
  cniConf: '/etc/cni/net.d',
  cniBin: '/opt/cni/bin',
  xtablesLock: '/run/xtables.lock',
  /** The TUN device of the udp backend and of wireguard-go: containers have none of their own. */
  tun: '/dev/net/tun',
} as const;

/** The file the CNI runtime reads: the ConfigMap's cni-conf.json is copied here. */
export const CONFLIST_NAME = '10-flannel.conflist';
