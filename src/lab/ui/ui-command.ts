/**
 * @module lab/ui/ui-command
 * `lab ui [--port N]`: serves the live picture of the lab on 127.0.0.1 until interrupted, and
 * `lab status --svg FILE`'s writer of the same topology as a static file.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../errors/index.ts';
import { GLOBAL, loadLab, needRoot, parsing, targetOf, usageError, type LabIO, type Target } from '../command-kit.ts';
import { labInvocation } from '../hints.ts';
import { LabUiServer } from './server.ts';
import { readSnapshot } from './snapshot.ts';
import { renderTopologySvg } from './svg.ts';

export const DEFAULT_UI_PORT = 8090;
const UI_OPTIONS = { ...GLOBAL, port: { type: 'string' } } as const;

export async function labUi(args: string[], io: LabIO, until: Promise<unknown> = interrupted()): Promise<number> {
  const { values } = parsing('ui', Object.keys(UI_OPTIONS), () => parseArgs({ args, options: UI_OPTIONS, tokens: true }));
  const t = targetOf(values);
  const portText = values.port ?? String(DEFAULT_UI_PORT);
  if (!/^\d+$/.test(portText) || Number(portText) > 65535) usageError(`--port must be a TCP port from 0 to 65535 (0 picks a free one), got "${portText}"`);
  needRoot();
  loadLab(t, 'ui');
  const server = new LabUiServer({ lab: t, port: Number(portText), log: (l) => io.progress(`[lab ui] ${l}`) });
  let url: string;
  try {
    url = await server.start();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE') throw new ConfigError('E_LAB_UI_PORT', `port ${portText} on 127.0.0.1 is in use`, { hint: `pick another with "${labInvocation(t)} ui --port <N>" (--port 0 picks a free one)` });
    throw err;
  }
  io.out(`lab "${t.name}" is served at ${url} (127.0.0.1 only); it follows the lab as it changes. Ctrl-C stops it.`);
  await until;
  await server.stop();
  io.progress('[lab ui] stopped');
  return 0;
}

function interrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => resolve(s));
  });
}

/** `lab status --svg FILE`: the topology of the lab as it is now, as a standalone SVG. */
export async function writeStatusSvg(t: Target, file: string, io: LabIO): Promise<number> {
  const { cluster, pods } = loadLab(t, 'status');
  const snapshot = readSnapshot(cluster, pods);
  try {
    writeFileSync(file, await renderTopologySvg(snapshot));
  } catch (err) {
    throw new ConfigError('E_LAB_SVG', `could not write ${file}: ${(err as Error).message}`, { hint: 'name a file in a directory that exists and is writable' });
  }
  const missing = snapshot.links.filter((l) => l.kind === 'missing').length;
  io.out(`wrote ${file}: lab "${t.name}", ${snapshot.nodes.length} nodes, ${snapshot.pods.length} pods, ${snapshot.links.length} node-to-node links (${missing} missing)`);
  return 0;
}
