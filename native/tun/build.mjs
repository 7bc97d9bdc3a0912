#!/usr/bin/env node
// Builds the udp backend's TUN addon (native/tun) with node-gyp against the headers of the Node
// that runs this script: never downloads headers (the machines reach no host but the package
// registries). Run by `npm ci`/`npm install` (the root package's install script) and by
// `npm run build:native`.
//
// Headers: $npm_config_nodedir when it holds them (npm on these machines sets nodedir=/usr),
// else <prefix of this node>/include/node (Debian's nodejs, the official tarballs and the
// node:20 images all ship them there). node-gyp: npm's own copy ($npm_config_node_gyp), else the
// one bundled with the npm next to this node, else `node-gyp` on the PATH.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const say = (line) => process.stderr.write(`${line}\n`);
const hasHeaders = (dir) => Boolean(dir) && existsSync(join(dir, 'include', 'node', 'node_api.h')) && existsSync(join(dir, 'include', 'node', 'common.gypi'));

const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')];
const nodedir = candidates.find(hasHeaders);
if (!nodedir) {
  say(`native/tun: Node's C headers were not found (looked in ${candidates.filter(Boolean).map((d) => join(d, 'include', 'node')).join(', ')}).`);
  say('native/tun: install them with the Node you run (Debian: the nodejs package ships /usr/include/node; official builds ship <prefix>/include/node), or set npm config nodedir.');
  process.exit(1);
}

const bundled = resolve(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gypJs = [process.env.npm_config_node_gyp, bundled].find((p) => p && existsSync(p));
const [cmd, ...pre] = gypJs ? [process.execPath, gypJs] : ['node-gyp'];
const args = [...pre, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'];
const r = spawnSync(cmd, args, { cwd: here, stdio: 'inherit', env: { ...process.env, npm_config_nodedir: nodedir } });
if (r.error || r.status !== 0) {
  say(`native/tun: building the TUN addon failed (${r.error ? r.error.message : `node-gyp exit ${r.status}`}); it needs g++, make and python3 (Debian: apt-get install g++ make python3).`);
  process.exit(1);
}
say(`native/tun: built ${join(here, 'build', 'Release', 'flannel_tun.node')} (headers: ${nodedir}/include/node)`);
