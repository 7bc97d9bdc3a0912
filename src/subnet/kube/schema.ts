/**
 * @module subnet/kube/schema
 * zod schemas for the Kubernetes objects flannel reads. They accept both the wire JSON (watch
 * events) and the client's deserialised models (same field names); unknown fields are ignored.
 */
import { z } from 'zod';
import type { NodeView } from './api.ts';

const StringMap = z.record(z.string(), z.string());

export const NodeSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    resourceVersion: z.string().optional(),
    annotations: StringMap.nullish(),
  }),
  spec: z
    .object({
      podCIDR: z.string().nullish(),
      podCIDRs: z.array(z.string()).nullish(),
    })
    .nullish(),
});

export const NodeListSchema = z.object({
  metadata: z.object({ resourceVersion: z.string().optional() }).nullish(),
  items: z.array(z.unknown()),
});

export const PodSchema = z.object({
  metadata: z.object({ name: z.string().optional() }).nullish(),
  spec: z.object({ nodeName: z.string().nullish() }).nullish(),
});

/** metav1.Status, as carried by a watch ERROR event or an error response body. */
export const StatusSchema = z.object({
  code: z.number().int().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

export const WatchEventSchema = z.object({
  type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']),
  object: z.unknown(),
});

export const BookmarkSchema = z.object({ metadata: z.object({ resourceVersion: z.string() }) });

/** The first problem zod found, as "path: message". */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
}

export type ParsedNode = { node: NodeView } | { problem: string };

export function parseNode(value: unknown): ParsedNode {
  const parsed = NodeSchema.safeParse(value);
  if (!parsed.success) return { problem: describeIssue(parsed.error) };
  const { metadata, spec } = parsed.data;
  const podCIDRs = spec?.podCIDRs && spec.podCIDRs.length > 0 ? spec.podCIDRs : spec?.podCIDR ? [spec.podCIDR] : [];
  return {
    node: {
      name: metadata.name,
      resourceVersion: metadata.resourceVersion ?? '',
      annotations: { ...(metadata.annotations ?? {}) },
      podCIDRs: [...podCIDRs],
    },
  };
}
