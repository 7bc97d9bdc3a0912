/**
 * @module wireguard/key-file
 * The node's WireGuard private key lives in a file (default /run/flannel/wgkey, env
 * WIREGUARD_KEY_FILE overrides, as upstream), written once and reused, so a restarted flanneld
 * keeps its public key and no peer needs a change. The file holds the key in base64 without a
 * newline, as upstream writes it (a newline or surrounding blanks, as `wg genkey > file` leaves,
 * are accepted on reading).
 *
 * A file that is there but unusable is an error naming the file and what is wrong with it, never
 * a silent new key: a new key changes the node's identity, which the operator decides on.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BackendError } from '../errors/index.ts';
import { generatePrivateKey, isBase64Key, publicKeyOf, ZERO_KEY } from './keys.ts';

export const DEFAULT_KEY_FILE = '/run/flannel/wgkey';
export const KEY_FILE_ENV = 'WIREGUARD_KEY_FILE';

/** A key file is 44 bytes; more than this is not a key file. */
const MAX_KEY_FILE_BYTES = 4096;

/** The key file's path: WIREGUARD_KEY_FILE when set and not empty, else /run/flannel/wgkey. */
export function keyFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const p = env[KEY_FILE_ENV];
  return p !== undefined && p.trim() !== '' ? p : DEFAULT_KEY_FILE;
}

export interface KeyFile {
  readonly path: string;
  /** Base64. */
  readonly privateKey: string;
  /** Base64, derived from the private key. */
  readonly publicKey: string;
  /** True when this call wrote the file (a new identity), false when it reused it. */
  readonly created: boolean;
  /** Things worth a WARN line, e.g. a key file other users can read. */
  readonly warnings: readonly string[];
}

export interface KeyFileOptions {
  /** For tests: where new keys come from (default: generatePrivateKey). */
  generate?: () => string;
}

const FIX_HINT = (path: string): string =>
  `delete ${path} to get a new key (flanneld writes a new one at start and publishes its public key in the lease, so peers pick it up), or put the node's old key back; ${KEY_FILE_ENV} chooses another file`;

function keyFileError(path: string, what: string, hint: string, cause?: unknown): BackendError {
  return new BackendError('E_WIREGUARD_KEY_FILE', `WireGuard private key file ${path} ${what}`, { hint, cause, explainsCause: cause !== undefined });
}

function errnoOf(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** Loads the private key from `path`, creating the file with a new key when there is none. */
export async function loadOrCreateKeyFile(path: string, options: KeyFileOptions = {}): Promise<KeyFile> {
  const existing = await readKeyFile(path);
  if (existing) return existing;
  return createKeyFile(path, options.generate ?? generatePrivateKey);
}

/** The key in `path`, or undefined when there is no such file. */
export async function readKeyFile(path: string): Promise<KeyFile | undefined> {
  let handle;
  try {
    // O_NOFOLLOW is not used: a key file that is a symlink to a managed secret is legitimate.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return undefined;
    throw keyFileError(path, `cannot be opened: ${code ?? String(err)}`, code === 'EACCES' || code === 'EPERM' ? `run flanneld as root, or fix the file's permissions; or ${FIX_HINT(path)}` : FIX_HINT(path), err);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw keyFileError(path, `is not a regular file (${st.isDirectory() ? 'a directory' : 'a special file'})`, FIX_HINT(path));
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_KEY_FILE_BYTES) throw keyFileError(path, `is larger than ${MAX_KEY_FILE_BYTES} bytes: it does not hold a WireGuard key (44 characters of base64)`, FIX_HINT(path));
    }
    const text = buf.subarray(0, length).toString('latin1').trim();
    if (text === '') throw keyFileError(path, `is empty: it should hold the node's private key, 44 characters of base64 as \`wg genkey\` prints`, FIX_HINT(path));
    if (!isBase64Key(text)) {
      const shape = text.length === 44 ? '44 characters that are not a base64 key' : `${text.length} characters, not the 44 of a base64 key`;
      throw keyFileError(path, `is corrupt: it holds ${shape} (as \`wg genkey\` prints)`, FIX_HINT(path));
    }
    if (text === ZERO_KEY) throw keyFileError(path, 'holds the all-zero key, which WireGuard treats as no key at all', FIX_HINT(path));
    const warnings: string[] = [];
    if ((st.mode & 0o077) !== 0) {
      warnings.push(`WireGuard private key file ${path} has mode 0${(st.mode & 0o777).toString(8)}: other users may read the node's private key; chmod 600 ${path}`);
    }
    return { path, privateKey: text, publicKey: publicKeyOf(text), created: false, warnings };
  } catch (err) {
    if (err instanceof BackendError) throw err;
    const code = errnoOf(err);
    throw keyFileError(path, `cannot be read: ${code ?? String(err)}`, FIX_HINT(path), err);
  } finally {
    await handle.close();
  }
}

/**
 * Writes a new key: the parent directory is made (0700) when missing, the key goes to a temporary
 * file (0600, flushed) that is then linked into place, which fails when another process created
 * the file meanwhile; that file's key is then the one used. No partly written key file is ever
 * visible under `path`.
 */
async function createKeyFile(path: string, generate: () => string): Promise<KeyFile> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw keyFileError(path, `cannot be created: its directory ${dir} cannot be made: ${errnoOf(err) ?? String(err)}`, `make ${dir} writable for flanneld, or set ${KEY_FILE_ENV} to a writable place`, err);
  }
  const privateKey = generate();
  if (!isBase64Key(privateKey)) throw new TypeError('generate() returned no base64 key');
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(privateKey, 'latin1');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, path);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'EEXIST') {
        // Someone else wrote it first: theirs is the key.
        const theirs = await readKeyFile(path);
        if (theirs) return theirs;
        throw err;
      }
      // A file system without hard links: rename is atomic too, only not exclusive.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') await rename(tmp, path);
      else throw err;
    }
  } catch (err) {
    if (err instanceof BackendError) throw err;
    throw keyFileError(path, `cannot be written: ${errnoOf(err) ?? String(err)}`, `make ${dir} writable for flanneld, or set ${KEY_FILE_ENV} to a writable place`, err);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return { path, privateKey, publicKey: publicKeyOf(privateKey), created: true, warnings: [] };
}
