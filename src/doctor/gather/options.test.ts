import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { flanneldArgsOf, knownFlanneldArgs, parseEnviron, resolveOptions, type FlanneldProcess } from './options.ts';

const proc = (pid: number, argv: string[], env: Record<string, string> = {}): FlanneldProcess => ({ pid, argv, env });

describe('doctor: which process is flanneld', () => {
  it('finds the arguments of upstream, source, bundle and image forms', () => {
    assert.deepEqual(flanneldArgsOf(['/opt/bin/flanneld', '--ip-masq', '--kube-subnet-mgr']), ['--ip-masq', '--kube-subnet-mgr']);
    assert.deepEqual(flanneldArgsOf(['/usr/bin/node', '--import', 'tsx', '/w/src/cli/flanneld.ts', '--iface=eth0']), ['--iface=eth0']);
    assert.deepEqual(flanneldArgsOf(['node', '/app/dist/cli/flanneld.js']), []);
  });
  it('is not fooled by wrappers that name flanneld among their arguments', () => {
    assert.equal(flanneldArgsOf(['sh', '-c', 'exec "$@"', '/run', '/usr/bin/env', 'node', 'flanneld.ts']), undefined);
    assert.equal(flanneldArgsOf(['ip', 'netns', 'exec', 'n1', 'flanneld']), undefined);
    assert.equal(flanneldArgsOf(['node', 'src/cli/flannel-ts.ts', 'doctor']), undefined);
    assert.equal(flanneldArgsOf(['flanneld-helper']), undefined);
  });
});

describe('doctor: /proc/<pid>/environ', () => {
  it('splits NUL-separated NAME=value, values may hold "="', () => {
    assert.deepEqual(parseEnviron('A=1\0FLANNELD_IFACE=eth0\0X=a=b\0\0junk\0'), { A: '1', FLANNELD_IFACE: 'eth0', X: 'a=b' });
  });
});

describe('doctor: reading a command line as far as it goes', () => {
  it('keeps known flags with their values and sets aside the rest', () => {
    assert.deepEqual(knownFlanneldArgs(['--iface', 'eth0', '-ip-masq', '--net-config-path=/x', '--some-new-upstream-flag=1', 'stray']), {
      known: ['--iface', 'eth0', '-ip-masq', '--net-config-path=/x'],
      ignored: ['--some-new-upstream-flag=1', 'stray'],
    });
  });
});

describe('doctor: resolving flanneld options', () => {
  const running = proc(412, ['/opt/bin/flanneld', '--iface=eth1', '--healthz-port=10256'], { FLANNELD_ETCD_PREFIX: '/lab/network', NODE_NAME: 'n1' });

  it("doctor's own flags win over the running flanneld", () => {
    const r = resolveOptions({ doctorFlags: ['--iface=eth0'], doctorEnv: {}, processes: [running] });
    assert.equal(r.from, "doctor's flags");
    assert.deepEqual(r.options.interfaces.iface, ['eth0']);
    assert.equal(r.options.healthz, undefined);
    assert.equal(r.pid, undefined);
  });

  it("else the running flanneld's command line and FLANNELD_* environment", () => {
    const r = resolveOptions({ doctorFlags: [], doctorEnv: { FLANNELD_IFACE: 'ignored' }, processes: [running] });
    assert.equal(r.from, "pid 412's command line and environment");
    assert.equal(r.pid, 412);
    assert.deepEqual(r.options.interfaces.iface, ['eth1']);
    assert.equal(r.options.etcd.prefix, '/lab/network');
    assert.deepEqual(r.options.healthz, { ip: '0.0.0.0', port: 10256 });
    assert.equal(r.env.NODE_NAME, 'n1');
  });

  it('says which arguments of the running flanneld it could not read', () => {
    const r = resolveOptions({ doctorEnv: {}, processes: [proc(7, ['flanneld', '--iface=eth0', '--brand-new=1'])] });
    assert.equal(r.from, "pid 7's command line and environment; ignored: --brand-new=1");
    assert.deepEqual(r.options.interfaces.iface, ['eth0']);
  });

  it('falls back to the defaults, saying why, when the running command line is invalid', () => {
    const r = resolveOptions({ doctorEnv: {}, processes: [proc(9, ['flanneld', '--ip-masq=perhaps'])] });
    assert.match(r.from, /^the defaults; pid 9's command line did not parse: --ip-masq must be true or false, got "perhaps"$/);
    assert.equal(r.options.ipMasq, false);
    assert.equal(r.pid, undefined);
  });

  it("with no flanneld: the defaults and doctor's own FLANNELD_* variables", () => {
    const r = resolveOptions({ doctorEnv: { FLANNELD_SUBNET_FILE: '/tmp/s.env', PATH: '/bin' }, processes: [] });
    assert.equal(r.from, 'the defaults');
    assert.equal(r.options.subnetFile, '/tmp/s.env');
    assert.deepEqual(r.options.etcd.endpoints, ['http://127.0.0.1:4001', 'http://127.0.0.1:2379']);
  });

  it("a bad flag given to doctor is an error (the command's usage error)", () => {
    assert.throws(() => resolveOptions({ doctorFlags: ['--healthz-port=70000'], doctorEnv: {}, processes: [] }), { code: 'E_FLAG_INVALID', message: '--healthz-port 70000 is out of range: it must be between 0 and 65535' });
  });
});
