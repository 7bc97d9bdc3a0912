import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../../errors/index.ts';
import { Cidr, IPAddress } from '../../ip/index.ts';
import type { JsonValue, LeaseAttrs } from '../../lease/index.ts';
import { deepJsonText, fuzzParams, mutated, neverThrows, onlyFlannelErrors, repeated } from '../../../test/harness/fuzz.ts';
import { annotationChanges, annotationNames, decodeBackendData, DEFAULT_ANNOTATION_PREFIX, desiredAnnotations, type AnnotationNames } from './annotations.ts';
import { nodeToLease, podCidrsOf, type Families } from './node-lease.ts';
import { BookmarkSchema, describeIssue, NodeListSchema, parseNode, PodSchema, StatusSchema, WatchEventSchema } from './schema.ts';

// ---- arbitraries ----------------------------------------------------------------------------

const v4 = fc.bigInt({ min: 1n, max: 0xffffffffn }).map((v) => IPAddress.fromBigInt(4, v));
const v6 = fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }).map((v) => IPAddress.fromBigInt(6, v));
const cidr4 = fc.tuple(v4, fc.integer({ min: 8, max: 30 })).map(([ip, p]) => Cidr.of(ip, p));
const cidr6 = fc.tuple(v6, fc.integer({ min: 48, max: 120 })).map(([ip, p]) => Cidr.of(ip, p));
const backendData: fc.Arbitrary<JsonValue | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record({ VNI: fc.integer({ min: 1, max: 0xffffff }), VtepMAC: fc.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/) }),
  fc.jsonValue({ maxDepth: 3 }).filter((v) => v !== null) as fc.Arbitrary<JsonValue>,
);
const families: fc.Arbitrary<Families> = fc.constantFrom({ v4: true, v6: false }, { v4: false, v6: true }, { v4: true, v6: true });
const prefixes = fc.constantFrom(DEFAULT_ANNOTATION_PREFIX, 'example.com/flannel', 'example.com/flannel-', 'example.com/', 'a.b');

/** What a flannel node publishes: its lease, as annotations and podCIDRs. */
const flannelNode = fc
  .record({
    name: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/),
    prefix: prefixes,
    families,
    publicIP: v4,
    publicIPv6: v6,
    backendType: fc.constantFrom('vxlan', 'host-gw', 'wireguard'),
    backendData,
    backendV6Data: backendData,
    v4: cidr4,
    v6: cidr6,
    resourceVersion: fc.nat().map(String),
  })
  .map((n) => {
    const names = annotationNames(n.prefix);
    const attrs: { -readonly [K in keyof LeaseAttrs]: LeaseAttrs[K] } = { backendType: n.backendType, publicIP: n.publicIP, publicIPv6: n.publicIPv6 };
    if (n.backendData !== undefined) attrs.backendData = n.backendData;
    if (n.backendV6Data !== undefined) attrs.backendV6Data = n.backendV6Data;
    const podCIDRs = [...(n.families.v4 ? [n.v4.toString()] : []), ...(n.families.v6 ? [n.v6.toString()] : [])];
    const wire = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: n.name, resourceVersion: n.resourceVersion, annotations: { 'node.alpha.kubernetes.io/ttl': '0', ...desiredAnnotations(names, attrs, n.families) } },
      spec: { podCIDR: podCIDRs[0], podCIDRs },
      status: { addresses: [{ type: 'InternalIP', address: n.publicIP.toString() }] },
    };
    return { ...n, names, attrs, wire };
  });

/** Replaces, removes or retypes values at random paths of a JSON document. */
type JsonDoc = { [k: string]: unknown } | unknown[];
const structuralEdit = fc.record({
  path: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
  action: fc.oneof(
    fc.constant({ kind: 'delete' as const }),
    fc.record({ kind: fc.constant('set' as const), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('', 'true', 'null', '10.0.0.1', 'fd00::1', '10.244.1.0/24', '{', '[]', '0.0.0.0')) }),
  ),
});
function editDoc(doc: unknown, edit: { path: number[]; action: { kind: 'delete' } | { kind: 'set'; value: unknown } }): unknown {
  const root = structuredClone(doc) as JsonDoc;
  let cur: unknown = root;
  for (const [depth, step] of edit.path.entries()) {
    if (typeof cur !== 'object' || cur === null) break;
    const keys = Object.keys(cur);
    if (keys.length === 0) break;
    const key = keys[step % keys.length] as string;
    const last = depth === edit.path.length - 1;
    const child = (cur as Record<string, unknown>)[key];
    if (last || typeof child !== 'object' || child === null) {
      if (edit.action.kind === 'delete') delete (cur as Record<string, unknown>)[key];
      else (cur as Record<string, unknown>)[key] = edit.action.value;
      break;
    }
    cur = child;
  }
  return root;
}
const mutatedNode = fc.tuple(flannelNode, fc.array(structuralEdit, { maxLength: 4 })).map(([n, edits]) => ({ ...n, wire: edits.reduce(editDoc, n.wire as unknown) }));
const JSON_TOKENS = fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'null', '"true"', '"/"', '"10.0.0.1"', '"::1"', '');

// ---- properties -----------------------------------------------------------------------------

describe('fuzz: Kubernetes node objects', () => {
  it('a node published by desiredAnnotations reads back as the same lease', () => {
    fc.assert(
      fc.property(flannelNode, (n) => {
        const parsed = parseNode(n.wire);
        assert.ok('node' in parsed, JSON.stringify(parsed));
        const r = nodeToLease(parsed.node, n.names, n.families);
        assert.ok('lease' in r, `not a lease: ${JSON.stringify(r)}`);
        const { lease } = r;
        assert.equal(lease.revision, n.resourceVersion);
        assert.equal(lease.attrs.backendType, n.backendType);
        if (n.families.v4) {
          assert.equal(lease.subnet?.toString(), n.v4.toString());
          assert.equal(lease.attrs.publicIP?.toString(), n.publicIP.toString());
          assert.equal(JSON.stringify(lease.attrs.backendData), JSON.stringify(n.backendData));
        }
        if (n.families.v6) {
          assert.equal(lease.ipv6Subnet?.toString(), n.v6.toString());
          assert.equal(lease.attrs.publicIPv6?.toString(), n.publicIPv6.toString());
          assert.equal(JSON.stringify(lease.attrs.backendV6Data), JSON.stringify(n.backendV6Data));
        }
        assert.deepEqual(annotationChanges(parsed.node.annotations, desiredAnnotations(n.names, lease.attrs, n.families)), {});
      }),
      fuzzParams(),
    );
  });

  it('parseNode and nodeToLease never throw on mutated nodes; a lease has what its families need', () => {
    const value = fc.oneof(
      { weight: 6, arbitrary: mutatedNode.map((n) => ({ n, wire: n.wire })) },
      fc.tuple(flannelNode, fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.anything({ maxDepth: 3 }))).map(([n, wire]) => ({ n, wire: wire as unknown })),
      fc.tuple(flannelNode, mutated(flannelNode.map((n) => JSON.stringify(n.wire)), JSON_TOKENS)).map(([n, text]) => {
        let wire: unknown;
        try {
          wire = JSON.parse(text);
        } catch {
          wire = text;
        }
        return { n, wire };
      }),
    );
    fc.assert(
      fc.property(value, families, ({ n, wire }, fams) => {
        const parsed = neverThrows(() => parseNode(wire));
        if ('problem' in parsed) {
          assert.ok(parsed.problem.length > 0);
          return;
        }
        neverThrows(() => podCidrsOf(parsed.node));
        const r = neverThrows(() => nodeToLease(parsed.node, n.names, fams));
        if ('lease' in r) {
          const { lease } = r;
          if (fams.v4) assert.ok(lease.subnet?.family === 4 && lease.attrs.publicIP?.family === 4);
          if (fams.v6) assert.ok(lease.ipv6Subnet?.family === 6 && lease.attrs.publicIPv6?.family === 6);
          assert.equal(parsed.node.annotations[n.names.kubeSubnetManager], 'true');
        } else if (r.problem !== undefined) {
          assert.ok(r.problem.length > 0);
        }
      }),
      fuzzParams(),
    );
  });

  it('backend data annotations: decoded or reported, never thrown, deep and long ones too', () => {
    const text = fc.oneof(
      { weight: 4, arbitrary: mutated(backendData.map((v) => (v === undefined ? 'null' : JSON.stringify(v))), JSON_TOKENS) },
      deepJsonText(),
      repeated(fc.constantFrom('[', '{"a":', ' ', '1,')),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = neverThrows(() => decodeBackendData(t));
        if ('value' in r && r.value !== undefined) assert.doesNotThrow(() => JSON.parse(t));
      }),
      fuzzParams(),
    );
  });

  it('the list, watch, status, bookmark and pod schemas never throw', () => {
    const obj = fc.oneof(
      mutatedNode.map((n) => n.wire),
      mutatedNode.map((n) => ({ metadata: { resourceVersion: '5' }, items: [n.wire, n.wire] })),
      fc.tuple(fc.constantFrom('ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR', 'added', ''), mutatedNode).map(([type, n]) => ({ type, object: n.wire })),
      fc.record({ code: fc.oneof(fc.integer(), fc.double(), fc.string()), reason: fc.string(), message: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
      fc.anything({ maxDepth: 3 }),
    );
    fc.assert(
      fc.property(obj, (o) => {
        for (const schema of [NodeListSchema, WatchEventSchema, StatusSchema, BookmarkSchema, PodSchema]) {
          const r = neverThrows(() => schema.safeParse(o));
          if (!r.success) assert.ok(neverThrows(() => describeIssue(r.error)).length > 0);
        }
      }),
      fuzzParams(),
    );
  });
});

/** A Kubernetes qualified name (what the API server accepts as an annotation key, checked lower-cased). */
function isQualifiedName(key: string): boolean {
  const k = key.toLowerCase();
  const slash = k.indexOf('/');
  const [prefix, name] = slash < 0 ? [undefined, k] : [k.slice(0, slash), k.slice(slash + 1)];
  if (prefix !== undefined && (prefix.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix))) return false;
  return name.length <= 63 && /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/.test(name);
}

describe('fuzz: --kube-annotation-prefix', () => {
  it('gives annotation keys the API server accepts, or a ConfigError', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
    const prefix = fc.oneof(
      fc.tuple(fc.array(label, { minLength: 2, maxLength: 4 }), fc.option(label, { nil: undefined }), fc.constantFrom('', '-', '/')).map(([ls, name, end]) => `${ls.join('.')}${name ? `/${name}` : ''}${end === '/' && name ? '' : end}`),
      fc.constantFrom(DEFAULT_ANNOTATION_PREFIX, 'example.com/flannel', 'a.b', 'a.b/', 'a.b/-', 'EVIL!!example.com', '-a.b', 'a_b.c', 'a..b', '.a.b', 'a.b./x'),
    );
    fc.assert(
      fc.property(fc.oneof(mutated(prefix, fc.constantFrom('/', '.', '-', '_', '!', 'A', ' ', '..', '//', '')), repeated(fc.constantFrom('a.', 'a-', 'a'), 5000)), (p) => {
        const r = onlyFlannelErrors(() => annotationNames(p), [ConfigError]);
        if (!r.ok) {
          assert.equal(r.error.code, 'E_KUBE_ANNOTATION_PREFIX');
          assert.ok(r.error.hint);
          return;
        }
        const names: AnnotationNames = r.value;
        for (const key of Object.values(names)) assert.ok(isQualifiedName(key), `--kube-annotation-prefix ${JSON.stringify(p)} gives the annotation key ${JSON.stringify(key)}, which the API server rejects`);
      }),
      fuzzParams(),
    );
  });
});
