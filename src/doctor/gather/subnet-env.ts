/**
 * @module doctor/gather/subnet-env
 * flanneld's subnet.env (--subnet-file), parsed as the CNI plugin reads it.
 */
import { readFile } from 'node:fs/promises';
import { parseSubnetEnv } from '../../subnetenv/index.ts';
import type { NodeFacts } from '../facts.ts';
import { reachablePath } from './paths.ts';
import { errorText } from './read.ts';

export async function readSubnetEnvFact(subnetFile: string, pid?: number): Promise<NodeFacts['subnetEnv']> {
  const path = await reachablePath(subnetFile, pid);
  try {
    return { path, value: parseSubnetEnv(await readFile(path, 'utf8'), path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { path, error: code === 'ENOENT' ? `${path} does not exist` : errorText(err) };
  }
}
