/**
 * @module subnet/kube/annotations
 * Upstream's node annotations under `--kube-annotation-prefix` (default flannel.alpha.coreos.com):
 * the prefix gets "/" when it has none, and "-" when it ends in neither "/" nor "-"; values are
 * strings, JSON for backend data ("null" when the backend has none), "true" for the marker.
 */
import { ConfigError } from '../../errors/index.ts';
import type { JsonValue, LeaseAttrs } from '../../lease/index.ts';

export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com';

export interface AnnotationNames {
  readonly kubeSubnetManager: string;
  readonly backendData: string;
  readonly backendV6Data: string;
  readonly backendType: string;
  readonly publicIP: string;
  readonly publicIPv6: string;
  readonly publicIPOverwrite: string;
  readonly publicIPv6Overwrite: string;
  readonly nodePublicIP: string;
  readonly nodePublicIPv6: string;
}

/** Upstream's fqdn[/name] rule, anchored at both ends (upstream's is not: "x!!example.com" passed it). */
const PREFIX_FORMAT = /^(?:[a-z0-9_-]+\.)+[a-z0-9_-]+\/(?:[a-z0-9_-]+-)?$/;
/** What the API server accepts before the "/" of an annotation key: a DNS-1123 subdomain. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** ... and after it: a name of 63 characters at most. */
const KEY_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export function annotationNames(prefixFlag: string = DEFAULT_ANNOTATION_PREFIX): AnnotationNames {
  const slashes = prefixFlag.split('/').length - 1;
  if (slashes > 1) {
    throw new ConfigError('E_KUBE_ANNOTATION_PREFIX', `--kube-annotation-prefix "${prefixFlag}" contains ${slashes} slashes; it may contain at most one`, {
      hint: `use a DNS name with an optional "/name" part, e.g. ${DEFAULT_ANNOTATION_PREFIX} (the default)`,
    });
  }
  let p = slashes === 0 ? `${prefixFlag}/` : prefixFlag;
  if (!p.endsWith('/') && !p.endsWith('-')) p += '-';
  if (!PREFIX_FORMAT.test(p)) {
    throw new ConfigError('E_KUBE_ANNOTATION_PREFIX', `--kube-annotation-prefix "${prefixFlag}" is not in the format fqdn[/name]: lower-case letters, digits, "_", "-" and dots only`, {
      hint: `e.g. ${DEFAULT_ANNOTATION_PREFIX} (the default) or example.com/flannel`,
    });
  }
  // Upstream's rule lets through keys the API server refuses, so that the first annotation patch
  // would fail; refuse them here, at start, saying why.
  const slash = p.indexOf('/');
  const domain = p.slice(0, slash);
  if (domain.length > 253 || !DNS_SUBDOMAIN.test(domain)) {
    throw new ConfigError(
      'E_KUBE_ANNOTATION_PREFIX',
      `--kube-annotation-prefix "${prefixFlag}": "${domain.length > 80 ? `${domain.slice(0, 80)}...` : domain}" is not a DNS name the Kubernetes API accepts in annotation keys (dot-separated labels of lower-case letters, digits and "-", each starting and ending with a letter or digit, 253 characters at most)`,
      { hint: `e.g. ${DEFAULT_ANNOTATION_PREFIX} (the default) or example.com/flannel` },
    );
  }
  const longest = `${p.slice(slash + 1)}public-ipv6-overwrite`;
  if (longest.length > 63 || !KEY_NAME.test(longest)) {
    throw new ConfigError(
      'E_KUBE_ANNOTATION_PREFIX',
      `--kube-annotation-prefix "${prefixFlag}" makes annotation names such as "${longest.length > 80 ? `${longest.slice(0, 80)}...` : longest}" that the Kubernetes API refuses (63 characters at most after the "/", starting with a letter or digit)`,
      { hint: 'shorten the part after the "/", e.g. example.com/flannel' },
    );
  }
  return {
    kubeSubnetManager: `${p}kube-subnet-manager`,
    backendData: `${p}backend-data`,
    backendV6Data: `${p}backend-v6-data`,
    backendType: `${p}backend-type`,
    publicIP: `${p}public-ip`,
    publicIPv6: `${p}public-ipv6`,
    publicIPOverwrite: `${p}public-ip-overwrite`,
    publicIPv6Overwrite: `${p}public-ipv6-overwrite`,
    nodePublicIP: `${p}node-public-ip`,
    nodePublicIPv6: `${p}node-public-ipv6`,
  };
}

/** Go's json.Marshal of a json.RawMessage: "null" when there is nothing. */
export function encodeBackendData(value: JsonValue | undefined): string {
  return value === undefined ? 'null' : JSON.stringify(value);
}

/** What we publish for this node: upstream's annotations for each enabled family. */
export function desiredAnnotations(names: AnnotationNames, attrs: LeaseAttrs, families: { v4: boolean; v6: boolean }): Record<string, string> {
  const out: Record<string, string> = { [names.backendType]: attrs.backendType };
  if (families.v4 && attrs.publicIP) {
    out[names.backendData] = encodeBackendData(attrs.backendData);
    out[names.publicIP] = attrs.publicIP.toString();
  }
  if (families.v6 && attrs.publicIPv6) {
    out[names.backendV6Data] = encodeBackendData(attrs.backendV6Data);
    out[names.publicIPv6] = attrs.publicIPv6.toString();
  }
  out[names.kubeSubnetManager] = 'true';
  return out;
}

/** The annotations among `want` whose value on the node differs (empty: nothing to patch). */
export function annotationChanges(current: Readonly<Record<string, string>>, want: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(want).filter(([k, v]) => current[k] !== v));
}

/** Decodes a backend-data annotation; undefined for absent, empty or "null". */
export function decodeBackendData(text: string | undefined): { value: JsonValue | undefined } | { problem: string } {
  if (text === undefined || text.trim() === '' || text.trim() === 'null') return { value: undefined };
  try {
    return { value: JSON.parse(text) as JsonValue };
  } catch (err) {
    return { problem: `not JSON (${(err as Error).message})` };
  }
}
