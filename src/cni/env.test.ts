import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCniEnv, validateContainerId, validateInterfaceName } from './env.ts';
import { throwsCni } from './test-helpers.ts';

const full = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/var/run/netns/p', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };

describe('CNI environment', () => {
  it('reads every variable', () => {
    assert.deepEqual(parseCniEnv({ ...full, CNI_ARGS: 'K8S_POD_NAME=a' }), {
      command: 'ADD',
      containerId: 'abc123',
      netns: '/var/run/netns/p',
      ifname: 'eth0',
      args: 'K8S_POD_NAME=a',
      path: '/opt/cni/bin',
    });
  });
  it('names every missing variable the command needs (code 4, libcni wording)', () => {
    throwsCni(() => parseCniEnv({ CNI_COMMAND: 'ADD' }), 4, 'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing');
    throwsCni(() => parseCniEnv({ ...full, CNI_CONTAINERID: '' }), 4, 'required env variables [CNI_CONTAINERID] missing');
    throwsCni(() => parseCniEnv({ CNI_COMMAND: 'GC' }), 4, 'required env variables [CNI_PATH] missing');
  });
  it('DEL needs no CNI_NETNS; STATUS and VERSION need only the command', () => {
    assert.equal(parseCniEnv({ ...full, CNI_COMMAND: 'DEL', CNI_NETNS: undefined }).command, 'DEL');
    assert.equal(parseCniEnv({ CNI_COMMAND: 'STATUS' }).command, 'STATUS');
    assert.equal(parseCniEnv({ CNI_COMMAND: 'VERSION' }).command, 'VERSION');
  });
  it('rejects an unknown command (code 4), quoting at most 64 characters of it', () => {
    throwsCni(() => parseCniEnv({ ...full, CNI_COMMAND: 'GET' }), 4, 'unknown CNI_COMMAND: GET');
    throwsCni(() => parseCniEnv({ ...full, CNI_COMMAND: 'X'.repeat(100) }), 4, `unknown CNI_COMMAND: ${'X'.repeat(64)}... (100 characters)`);
  });
  it('checks the container ID before anything else uses it', () => {
    throwsCni(() => parseCniEnv({ ...full, CNI_CONTAINERID: '../etc/passwd' }), 4, 'invalid characters in containerID', '../etc/passwd');
  });
});

describe('container ID', () => {
  // 'a..b' is in the spec's set and a harmless file name: no '/', and '.'/'..' cannot start an ID.
  for (const ok of ['a', '0', 'abc-DEF_1.2', 'f'.repeat(64), 'a.b', 'a..b', 'a...', 'x'.repeat(255)]) {
    it(`accepts ${JSON.stringify(ok.length > 20 ? `${ok.slice(0, 10)}…` : ok)}`, () => validateContainerId(ok));
  }
  for (const bad of ['-a', '_a', '.a', '.', '..', '../x', 'a/../b', 'a/b', '/abs', 'a b', 'a\nb', 'é', 'a:b', 'a\u0000b']) {
    it(`rejects ${JSON.stringify(bad)} with code 4`, () => throwsCni(() => validateContainerId(bad), 4, 'invalid characters in containerID', bad));
  }
  it('says an ID of valid characters is too long, and what the limit is (issue 12, defect 6)', () => {
    const id = 'a'.repeat(300);
    throwsCni(
      () => validateContainerId(id),
      4,
      'containerID is too long: 300 characters, the limit is 255',
      `flannel saves each container's delegate configuration as <dataDir>/<containerID>, and a file name has at most 255 bytes; container runtimes use 64-character IDs; this one starts "${'a'.repeat(64)}"`,
    );
    throwsCni(() => validateContainerId('b'.repeat(256)), 4, 'containerID is too long: 256 characters, the limit is 255');
  });
  it('an ID with invalid characters says so, whatever its length, and quotes at most 256 characters of it', () => {
    throwsCni(() => validateContainerId(`${'a'.repeat(299)}/`), 4, 'invalid characters in containerID', `${'a'.repeat(256)}... (300 characters)`);
  });
  it('an empty ID is code 3 (unknown container), as libcni', () => throwsCni(() => validateContainerId(''), 3, 'missing containerID'));
});

describe('interface name', () => {
  it('accepts eth0 and 15 characters', () => {
    validateInterfaceName('eth0');
    validateInterfaceName('a'.repeat(15));
  });
  it('rejects empty, long, dot names, / : and whitespace (code 4)', () => {
    throwsCni(() => validateInterfaceName(''), 4, 'interface name is empty');
    throwsCni(() => validateInterfaceName('a'.repeat(16)), 4, 'interface name is too long', `interface name should be less than 16 characters; "${'a'.repeat(16)}" has 16 bytes`);
    throwsCni(() => validateInterfaceName('..'), 4, 'interface name is . or ..');
    for (const n of ['a/b', 'a:b', 'a b', 'a\tb']) throwsCni(() => validateInterfaceName(n), 4, 'interface name contains / or : or whitespace characters', n);
  });
  it('takes letters and digits at once, and still refuses every Unicode space, and accepts - _ . and non-ASCII letters', () => {
    for (const n of ['eth0', 'ETH1', '0', 'net1a2b3c']) validateInterfaceName(n);
    for (const n of ['veth-1.2_x', 'é1', 'a.b']) validateInterfaceName(n);
    for (const n of ['a\u00a0b', 'a\u3000', '\u2028x', 'a\ufeff', '\u1680', 'x\u000b']) throwsCni(() => validateInterfaceName(n), 4, 'interface name contains / or : or whitespace characters', n);
  });
  it('counts bytes, as the kernel does: 8 two-byte characters are too long', () => {
    validateInterfaceName('é'.repeat(7)); // 14 bytes
    throwsCni(() => validateInterfaceName('é'.repeat(8)), 4, 'interface name is too long', `interface name should be less than 16 characters; "${'é'.repeat(8)}" has 16 bytes`);
  });
});
