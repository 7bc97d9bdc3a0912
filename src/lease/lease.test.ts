import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr, IPAddress } from '../ip/index.ts';
import { decodeLeaseAttrs, describeLease, encodeLeaseAttrs, LeaseWatcher, type Lease } from './index.ts';

describe('lease JSON codec', () => {
  it('writes upstream field names and order, PublicIPv6 null, backend data omitted when empty', () => {
    assert.equal(
      encodeLeaseAttrs({ publicIP: IPAddress.parse('192.168.64.3'), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' } }),
      '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}',
    );
    assert.equal(encodeLeaseAttrs({ publicIP: IPAddress.parse('10.0.0.2'), backendType: 'host-gw' }), '{"PublicIP":"10.0.0.2","PublicIPv6":null,"BackendType":"host-gw"}');
    assert.equal(
      encodeLeaseAttrs({ publicIPv6: IPAddress.parse('fd00::2'), backendType: 'vxlan', backendV6Data: { VNI: 1, VtepMAC: 'aa:bb:cc:dd:ee:ff' } }),
      '{"PublicIP":"0.0.0.0","PublicIPv6":"fd00::2","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}',
    );
  });
  it('reads upstream values, including ones written by upstream flanneld', () => {
    const a = decodeLeaseAttrs('{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}', 'k');
    assert.equal(a.publicIP?.toString(), '192.168.64.3');
    assert.equal(a.publicIPv6, undefined);
    assert.deepEqual(a.backendData, { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' });
    const b = decodeLeaseAttrs('{"PublicIP":"0.0.0.0","PublicIPv6":"fd00::2","BackendType":"host-gw","BackendData":null}', 'k');
    assert.equal(b.publicIP, undefined);
    assert.equal(b.publicIPv6?.toString(), 'fd00::2');
    assert.equal(b.backendData, undefined);
  });
  it('rejects bad values naming the key and field', () => {
    assert.throws(() => decodeLeaseAttrs('{', '/p/subnets/10.0.1.0-24'), /\/p\/subnets\/10\.0\.1\.0-24: lease value is not JSON/);
    assert.throws(() => decodeLeaseAttrs('{"PublicIP":7}', 'k'), /k: lease value field PublicIP is invalid/);
    assert.throws(() => decodeLeaseAttrs('{"PublicIP":"fd00::1"}', 'k'), /k: PublicIP "fd00::1" is not an IPv4 address/);
  });
});

const lease = (subnet: string, ip: string, mac = 'aa:aa:aa:aa:aa:01'): Lease => ({
  subnet: Cidr.parse(subnet),
  attrs: { publicIP: IPAddress.parse(ip), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } },
  expiration: new Date(Date.now() + 1000),
});

describe('LeaseWatcher', () => {
  const own = lease('10.244.1.0/24', '192.0.2.1');
  it('drops its own lease and diffs snapshots', () => {
    const w = new LeaseWatcher(own);
    const a = lease('10.244.2.0/24', '192.0.2.2');
    const b = lease('10.244.3.0/24', '192.0.2.3');
    assert.deepEqual(w.reset([own, a, b]).map((e) => `${e.type} ${e.lease.subnet}`), ['added 10.244.2.0/24', 'added 10.244.3.0/24']);
    const b2 = lease('10.244.3.0/24', '192.0.2.3', 'aa:aa:aa:aa:aa:02');
    const c = lease('10.244.4.0/24', '192.0.2.4');
    assert.deepEqual(w.reset([own, b2, c]).map((e) => `${e.type} ${e.lease.subnet}`), ['removed 10.244.2.0/24', 'added 10.244.3.0/24', 'added 10.244.4.0/24']);
    assert.deepEqual(w.reset([own, b2, c]), [], 'an identical snapshot changes nothing');
    assert.equal(w.peers.length, 2);
  });
  it('ignores renewals and unknown removals in deltas', () => {
    const w = new LeaseWatcher(own);
    const a = lease('10.244.2.0/24', '192.0.2.2');
    assert.equal(w.update([{ type: 'added', lease: a }]).length, 1);
    assert.equal(w.update([{ type: 'added', lease: { ...a, expiration: new Date(Date.now() + 99_000) } }]).length, 0, 'a renewal is not a change');
    assert.equal(w.update([{ type: 'removed', lease: lease('10.244.9.0/24', '192.0.2.9') }]).length, 0);
    assert.equal(w.update([{ type: 'added', lease: own }]).length, 0);
    assert.deepEqual(w.update([{ type: 'removed', lease: a }]).map((e) => e.type), ['removed']);
  });
  it('describes a lease for logs', () => {
    assert.equal(describeLease(lease('10.244.2.0/24', '192.0.2.12')), '10.244.2.0/24 via 192.0.2.12');
  });
});
