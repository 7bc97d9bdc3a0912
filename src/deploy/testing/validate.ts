/**
 * @module deploy/testing/validate
 * Schema validation of generated objects, for tests.
 *
 * Why `kubernetes-models`: it ships the Kubernetes OpenAPI schemas (per API group and version)
 * precompiled to validators, so tests validate offline, with no cluster, no `kubeconform`
 * binary and no schema download (none of which this workplace can have). Its validators check
 * required fields, types, enums and formats; they do not reject unknown fields. Those are
 * caught earlier: the generator's objects are typed with the same package's interfaces, so a
 * misspelt field does not compile, and the chart must render to exactly the same objects.
 */
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { z } from 'zod';

interface Validatable {
  validate(): void;
}

/** The models by "apiVersion/kind"; a kind not listed here is itself an error. */
const MODELS = new Map<string, unknown>([
  ['v1/Namespace', Namespace],
  ['v1/ServiceAccount', ServiceAccount],
  ['v1/ConfigMap', ConfigMap],
  ['rbac.authorization.k8s.io/v1/ClusterRole', ClusterRole],
  ['rbac.authorization.k8s.io/v1/ClusterRoleBinding', ClusterRoleBinding],
  ['apps/v1/DaemonSet', DaemonSet],
]);

const labelMap = z.record(z.string().regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/), z.string().max(63));
/** A Prometheus duration, as the operator's CRD pattern has it. */
const duration = z.string().regex(/^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/);

/**
 * The Prometheus Operator's PodMonitor (monitoring.coreos.com/v1), the fields the chart writes, from
 * the operator's CRD (kubernetes-models has no CRDs): strict, so a misspelt or misplaced field fails.
 */
const PodMonitorSchema = z.strictObject({
  apiVersion: z.literal('monitoring.coreos.com/v1'),
  kind: z.literal('PodMonitor'),
  metadata: z.strictObject({ name: z.string().min(1), namespace: z.string().min(1), labels: labelMap.optional() }),
  spec: z.strictObject({
    selector: z.strictObject({ matchLabels: labelMap }),
    podMetricsEndpoints: z.array(
      z.strictObject({
        port: z.string().min(1),
        path: z.string().startsWith('/'),
        interval: duration.optional(),
        relabelings: z
          .array(z.strictObject({ sourceLabels: z.array(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/)), targetLabel: z.string().min(1), action: z.enum(['replace', 'keep', 'drop', 'labelmap']).optional() }))
          .optional(),
      }),
    ).min(1),
  }),
});

const CUSTOM = new Map<string, z.ZodType>([['monitoring.coreos.com/v1/PodMonitor', PodMonitorSchema]]);

export class SchemaError extends Error {
  override readonly name = 'SchemaError';
}

/** Throws SchemaError naming the object and the first violations. */
export function validateObject(obj: unknown): void {
  if (typeof obj !== 'object' || obj === null) throw new SchemaError(`not an object: ${JSON.stringify(obj)}`);
  const { apiVersion, kind, metadata } = obj as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  const key = `${String(apiVersion)}/${String(kind)}`;
  const custom = CUSTOM.get(key);
  if (custom !== undefined) {
    const r = custom.safeParse(obj);
    if (!r.success) throw new SchemaError(`${key} ${String(metadata?.name)}: ${z.prettifyError(r.error)}`);
    return;
  }
  const Model = MODELS.get(key);
  if (Model === undefined) throw new SchemaError(`no schema for ${key}`);
  // The models take their own interface; the data is untrusted here, which is the point.
  const model = new (Model as new (data: unknown) => Validatable)(obj);
  try {
    model.validate();
  } catch (err) {
    throw new SchemaError(`${key} ${String(metadata?.name)}: ${(err as Error).message}`, { cause: err });
  }
}
