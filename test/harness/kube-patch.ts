/**
 * The two JSON patch flavours the fake API server accepts, as the real one applies them to a
 * Node: RFC 7386 merge patch, and strategic merge patch (maps merge, null deletes, lists are
 * replaced except those Kubernetes merges by key: status.conditions and status.addresses by type).
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Lists merged element-wise by a key field, by JSON path. */
const MERGE_KEYS: Record<string, string> = { 'status.conditions': 'type', 'status.addresses': 'type' };

export function strategicMergePatch(target: Json | undefined, patch: Json, path = ''): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: JsonObject = isObject(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue; // directives ($patch, $retainKeys): not needed by flannel
    const p = path ? `${path}.${k}` : k;
    const key = MERGE_KEYS[p];
    if (v === null) delete out[k];
    else if (key && Array.isArray(v)) out[k] = mergeListByKey(out[k], v, key);
    else out[k] = strategicMergePatch(out[k], v, p);
  }
  return out;
}

function mergeListByKey(target: Json | undefined, patch: Json[], key: string): Json[] {
  const out: Json[] = Array.isArray(target) ? structuredClone(target) : [];
  for (const item of patch) {
    if (!isObject(item)) continue;
    const i = out.findIndex((x) => isObject(x) && x[key] === item[key]);
    if (i >= 0) out[i] = mergePatch(out[i], item);
    else out.push(structuredClone(item));
  }
  return out;
}
