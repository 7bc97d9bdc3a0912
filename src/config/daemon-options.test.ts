import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDaemonOptions, formatHelp, FLAGS } from './index.ts';
import { kernelLacksVxlanChecksumFix } from './daemon-options.ts';
import { BAD_FLAGS } from '../../test/fixtures/bad-configs.ts';

describe('parseDaemonOptions', () => {
  it('has upstream defaults', () => {
    const o = parseDaemonOptions([], {});
    assert.deepEqual(o.etcd.endpoints, ['http://127.0.0.1:4001', 'http://127.0.0.1:2379']);
    assert.equal(o.etcd.prefix, '/coreos.com/network');
    assert.equal(o.subnetFile, '/run/flannel/subnet.env');
    assert.equal(o.subnetLeaseRenewMarginMinutes, 60);
    assert.equal(o.iptablesResyncSeconds, 5);
    assert.equal(o.iptablesForwardRules, true);
    assert.equal(o.ipMasq, false);
    assert.equal(o.subnetManager, 'etcd');
    assert.equal(o.kube.annotationPrefix, 'flannel.alpha.coreos.com');
    assert.equal(o.kube.netConfigPath, '/etc/kube-flannel/net-conf.json');
    assert.equal(o.healthz, undefined);
    assert.ok(Object.isFrozen(o) && Object.isFrozen(o.etcd));
  });
  it('turns VXLAN TX checksum offload off by default only on kernels without the NAT checksum fix (< 5.7)', () => {
    for (const [rel, lacks] of [['4.19.0-25-amd64', true], ['5.4.0-150-generic', true], ['5.6.19', true], ['5.7.0', false], ['5.15.0-91-generic', false], ['6.18.44-fc-v669', false], ['weird', true]] as const) {
      assert.equal(kernelLacksVxlanChecksumFix(rel), lacks, rel);
    }
    assert.equal(parseDaemonOptions([], {}, '5.4.0-150-generic').vxlanDisableTxChecksumOffload, true);
    assert.equal(parseDaemonOptions([], {}, '6.1.0-18-amd64').vxlanDisableTxChecksumOffload, false);
    // An explicit choice wins either way, from the flag or from FLANNELD_*.
    assert.equal(parseDaemonOptions(['--vxlan-disable-tx-checksum-offload'], {}, '6.1.0').vxlanDisableTxChecksumOffload, true);
    assert.equal(parseDaemonOptions([], { FLANNELD_VXLAN_DISABLE_TX_CHECKSUM_OFFLOAD: 'true' }, '6.1.0').vxlanDisableTxChecksumOffload, true);
    assert.equal(parseDaemonOptions(['--vxlan-disable-tx-checksum-offload=false'], {}, '5.4.0').vxlanDisableTxChecksumOffload, false);
  });
  it('reads FLANNELD_* and lets flags win', () => {
    const env = { FLANNELD_ETCD_PREFIX: '/env/network', FLANNELD_IP_MASQ: 'true', FLANNELD_IFACE: 'eth1,eth2', FLANNELD_PUBLIC_IP: '192.0.2.5' };
    const o = parseDaemonOptions(['--etcd-prefix=/flag/network', '-public-ip', '192.0.2.9'], env);
    assert.equal(o.etcd.prefix, '/flag/network');
    assert.equal(o.ipMasq, true);
    assert.deepEqual(o.interfaces.iface, ['eth1', 'eth2']);
    assert.equal(o.interfaces.publicIP?.toString(), '192.0.2.9');
  });
  it('accepts Go-style single-dash flags, repeated flags and bool=value', () => {
    const o = parseDaemonOptions(['-iface=eth0', '--iface', '10.0.0.5', '--ip-masq', '--iptables-forward-rules=false', '-kube-subnet-mgr', '--healthz-port=8080', '-v=2'], {});
    assert.deepEqual(o.interfaces.iface, ['eth0', '10.0.0.5']);
    assert.equal(o.ipMasq, true);
    assert.equal(o.iptablesForwardRules, false);
    assert.equal(o.subnetManager, 'kube');
    assert.deepEqual(o.healthz, { ip: '0.0.0.0', port: 8080 });
    assert.equal(o.verbosity, 2);
  });
  it('lists every flag with its default in --help', () => {
    const help = formatHelp();
    for (const f of FLAGS) assert.ok(help.includes(`--${f.name}`), f.name);
    assert.match(help, /--etcd-prefix string\n\s+etcd prefix \(default "\/coreos.com\/network"\)/);
    assert.match(help, /FLANNELD_ETCD_ENDPOINTS/);
  });
  for (const c of BAD_FLAGS) {
    it(`rejects: ${c.name}`, () => {
      assert.throws(
        () => parseDaemonOptions(c.args ?? [], c.env ?? {}),
        (err: Error & { code?: string }) => {
          assert.equal(err.message, c.error);
          assert.equal(err.code, 'E_FLAG_INVALID');
          return true;
        },
      );
    });
  }
});
