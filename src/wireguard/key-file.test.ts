import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError } from '../errors/index.ts';
import { DEFAULT_KEY_FILE, keyFilePath, loadOrCreateKeyFile } from './key-file.ts';
import { publicKeyOf } from './keys.ts';

const KEY = '4PQ0N2XhYrdQkHS3y+i6hiknLnJz9msYdFZwhcZjblo=';
const PUB = 'H8AVr/BGU3Be1naI1NF6iXr2NHgBgfLJUHQBmI73p04=';

describe('wireguard key file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flt-wgkey-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is /run/flannel/wgkey unless WIREGUARD_KEY_FILE says otherwise (upstream\'s variable)', () => {
    assert.equal(DEFAULT_KEY_FILE, '/run/flannel/wgkey');
    assert.equal(keyFilePath({}), '/run/flannel/wgkey');
    assert.equal(keyFilePath({ WIREGUARD_KEY_FILE: '/etc/flannel/key' }), '/etc/flannel/key');
    assert.equal(keyFilePath({ WIREGUARD_KEY_FILE: '' }), '/run/flannel/wgkey');
  });

  it('is created once (0600, in a 0700 directory it makes), then reused: the public key survives a restart', async () => {
    const path = join(dir, 'new', 'sub', 'wgkey');
    const first = await loadOrCreateKeyFile(path);
    assert.equal(first.created, true);
    assert.equal(first.path, path);
    assert.equal(first.publicKey, publicKeyOf(first.privateKey));
    assert.deepEqual(first.warnings, []);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'new'))).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'new', 'sub'))).mode & 0o777, 0o700);
    // As upstream writes it: the base64 key, no newline.
    assert.equal(await readFile(path, 'latin1'), first.privateKey);
    const second = await loadOrCreateKeyFile(path);
    assert.deepEqual(second, { ...first, created: false });
    assert.deepEqual(await readdir(join(dir, 'new', 'sub')), ['wgkey'], 'no temporary file left behind');
  });

  it('reads a key written by `wg genkey > file` (trailing newline)', async () => {
    const path = join(dir, 'genkey');
    await writeFile(path, `${KEY}\n`, { mode: 0o600 });
    const k = await loadOrCreateKeyFile(path);
    assert.deepEqual(k, { path, privateKey: KEY, publicKey: PUB, created: false, warnings: [] });
  });

  it('warns when other users can read the key', async () => {
    const path = join(dir, 'open');
    await writeFile(path, KEY);
    await chmod(path, 0o644);
    const k = await loadOrCreateKeyFile(path);
    assert.deepEqual(k.warnings, [`WireGuard private key file ${path} has mode 0644: other users may read the node's private key; chmod 600 ${path}`]);
  });

  it('two starts racing for a missing file end with one key', async () => {
    const path = join(dir, 'race', 'wgkey');
    const [a, b] = await Promise.all([loadOrCreateKeyFile(path), loadOrCreateKeyFile(path)]);
    assert.equal(a.privateKey, b.privateKey);
    assert.deepEqual([a.created, b.created].sort(), [false, true]);
    assert.deepEqual(await readdir(join(dir, 'race')), ['wgkey']);
  });

  const hint = (path: string): string =>
    `delete ${path} to get a new key (flanneld writes a new one at start and publishes its public key in the lease, so peers pick it up), or put the node's old key back; WIREGUARD_KEY_FILE chooses another file`;

  const unusable: Array<[string, string | Buffer | 'dir', (path: string) => string]> = [
    ['empty', '', (p) => `WireGuard private key file ${p} is empty: it should hold the node's private key, 44 characters of base64 as \`wg genkey\` prints`],
    ['short (cut off)', KEY.slice(0, 20), (p) => `WireGuard private key file ${p} is corrupt: it holds 20 characters, not the 44 of a base64 key (as \`wg genkey\` prints)`],
    ['garbage of the right length', '!'.repeat(44), (p) => `WireGuard private key file ${p} is corrupt: it holds 44 characters that are not a base64 key (as \`wg genkey\` prints)`],
    ['binary', Buffer.alloc(32, 7), (p) => `WireGuard private key file ${p} is corrupt: it holds 32 characters, not the 44 of a base64 key (as \`wg genkey\` prints)`],
    ['the all-zero key', `${'A'.repeat(43)}=`, (p) => `WireGuard private key file ${p} holds the all-zero key, which WireGuard treats as no key at all`],
    ['huge', 'A'.repeat(100_000), (p) => `WireGuard private key file ${p} is larger than 4096 bytes: it does not hold a WireGuard key (44 characters of base64)`],
    ['a directory', 'dir', (p) => `WireGuard private key file ${p} is not a regular file (a directory)`],
  ];
  for (const [name, content, message] of unusable) {
    it(`is an error naming the file, never a silent new key, when it is ${name}`, async () => {
      const path = join(dir, `bad-${name.replace(/\W+/g, '-')}`);
      if (content === 'dir') await mkdir(path);
      else await writeFile(path, content, { mode: 0o600 });
      await assert.rejects(loadOrCreateKeyFile(path), (err: unknown) => {
        assert.ok(err instanceof BackendError);
        assert.equal(err.code, 'E_WIREGUARD_KEY_FILE');
        assert.equal(err.message, message(path));
        assert.equal(err.hint, hint(path));
        return true;
      });
      if (content !== 'dir') assert.deepEqual(await readFile(path), Buffer.from(content), 'the file is left as it was');
    });
  }

  it('says why it cannot open the file', async () => {
    const notDir = join(dir, 'plain-file');
    await writeFile(notDir, 'x');
    const path = join(notDir, 'wgkey');
    await assert.rejects(loadOrCreateKeyFile(path), { code: 'E_WIREGUARD_KEY_FILE', message: `WireGuard private key file ${path} cannot be opened: ENOTDIR` });
  });
});
