/**
 * @module doctor/gather/paths
 * A file of flanneld's (subnet.env, net-conf.json, wireguard-go's sockets) as doctor can reach
 * it: at its own path, else through the running flanneld's root (/proc/<pid>/root/...), which is
 * how it is seen from the host when flanneld runs in a pod or with a private /run.
 */
import { access } from 'node:fs/promises';

export function pathCandidates(path: string, pid: number | undefined, procDir = '/proc'): string[] {
  return pid === undefined || !path.startsWith('/') ? [path] : [path, `${procDir}/${pid}/root${path}`];
}

/** The first candidate that exists, else `path` itself (so an error names the path flanneld uses). */
export async function reachablePath(path: string, pid: number | undefined, procDir = '/proc'): Promise<string> {
  for (const p of pathCandidates(path, pid, procDir)) {
    if (await access(p).then(() => true, () => false)) return p;
  }
  return path;
}
