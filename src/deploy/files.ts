/**
 * @module deploy/files
 * Every generated file under deploy/, by path relative to the repository root.
 */
import { readFileSync } from 'node:fs';
import { chartFiles } from './chart.ts';
import { renderManifest } from './manifest.ts';
import { manifestDocs } from './objects/index.ts';
import { defaultValues } from './values.ts';

export const MANIFEST_PATH = 'deploy/kube-flannel.yml';
export const CHART_DIR = 'deploy/chart/kube-flannel';

/** The version in package.json: the chart's version and the default image tag. */
export function packageVersion(repoRoot: URL): string {
  const pkg = JSON.parse(readFileSync(new URL('package.json', repoRoot), 'utf8')) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new TypeError('package.json has no version');
  return pkg.version;
}

export function deployFiles(version: string): Map<string, string> {
  const docs = manifestDocs();
  const defaults = defaultValues(version);
  const files = new Map<string, string>([[MANIFEST_PATH, renderManifest(docs, defaults)]]);
  for (const [path, text] of chartFiles(docs, defaults, version)) files.set(`${CHART_DIR}/${path}`, text);
  return files;
}
