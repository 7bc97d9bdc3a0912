/**
 * @module deploy/chart
 * deploy/chart/kube-flannel: Chart.yaml, values.yaml (the defaults with their comments) and one
 * template file per group of objects, written from the same trees as the manifest.
 */
import { condAction, emitYaml } from './template/index.ts';
import { docConds, type ManifestDoc } from './objects/index.ts';
import { GENERATED_NOTE } from './manifest.ts';
import { VALUE_HELP, isStructuredValue, type ChartValues, type ValuePath } from './values.ts';

function chartYaml(version: string): string {
  return emitYaml({
    apiVersion: 'v2',
    name: 'flannel',
    description: 'flannel-ts: the flannel pod network for Kubernetes, in TypeScript',
    type: 'application',
    version,
    appVersion: version,
    keywords: ['flannel', 'cni', 'network', 'vxlan'],
  });
}

function valuesYaml(defaults: ChartValues): string {
  const help = (path: string) => VALUE_HELP[path as ValuePath];
  return `# Values of the flannel-ts chart. ${GENERATED_NOTE}\n${emitYaml(defaults as unknown as Record<string, unknown>, { comment: help })}`;
}

function templateFile(docs: readonly ManifestDoc[], defaults: ChartValues): string {
  const options = { isStructured: (path: string) => isStructuredValue(defaults, path) };
  const parts = docs.map((d) => {
    const yaml = `---\n${emitYaml(d.object as unknown as Record<string, unknown>, options)}`;
    const conds = docConds(d);
    const open = conds.map((c) => `{{- ${condAction(c)} }}\n`).join('');
    return `${open}${yaml}${'{{- end }}\n'.repeat(conds.length)}`;
  });
  return `# ${GENERATED_NOTE}\n${parts.join('')}`;
}

/** The chart's files, by path relative to the chart directory. */
export function chartFiles(docs: readonly ManifestDoc[], defaults: ChartValues, version: string): Map<string, string> {
  const files = new Map<string, string>([
    ['Chart.yaml', chartYaml(version)],
    ['values.yaml', valuesYaml(defaults)],
  ]);
  const byFile = new Map<string, ManifestDoc[]>();
  for (const d of docs) byFile.set(d.file, [...(byFile.get(d.file) ?? []), d]);
  for (const [file, group] of byFile) files.set(`templates/${file}`, templateFile(group, defaults));
  return files;
}
