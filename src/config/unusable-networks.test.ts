import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig } from './index.ts';

const HINT4 = 'choose a private range that no host network uses, e.g. "Network": "10.244.0.0/16", and restart flanneld';
const HINT6 = 'choose a private range that no host network uses, e.g. "IPv6Network": "fd00:10:244::/56", and restart flanneld';

function rejects(netconf: Record<string, unknown>, message: string, hint: string): void {
  assert.throws(
    () => parseNetworkConfig(JSON.stringify(netconf), { source: 'net-conf.json' }),
    (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.message, `net-conf.json: ${message}`);
      assert.equal(err.code, 'E_NETCONF_INVALID');
      assert.equal(err.hint, hint);
      return true;
    },
  );
}

describe('networks that cannot carry pods are rejected at validation', () => {
  const v6 = (net: string): Record<string, unknown> => ({ EnableIPv4: false, EnableIPv6: true, IPv6Network: net });
  const cases: Array<[string, Record<string, unknown>, string, string]> = [
    ['0.0.0.0/0', { Network: '0.0.0.0/0' }, 'Network 0.0.0.0/0 cannot be a pod network: it is the whole IPv4 address space, so pod traffic could not be told from any other traffic', HINT4],
    ['::/0', v6('::/0'), 'IPv6Network ::/0 cannot be a pod network: it is the whole IPv6 address space, so pod traffic could not be told from any other traffic', HINT6],
    ['loopback', { Network: '127.0.0.0/16' }, 'Network 127.0.0.0/16 cannot be a pod network: it overlaps 127.0.0.0/8 (loopback)', HINT4],
    ['a network containing loopback', { Network: '64.0.0.0/2' }, 'Network 64.0.0.0/2 cannot be a pod network: it overlaps 127.0.0.0/8 (loopback)', HINT4],
    ['multicast', { Network: '224.10.0.0/16' }, 'Network 224.10.0.0/16 cannot be a pod network: it overlaps 224.0.0.0/4 (multicast)', HINT4],
    ['link-local', { Network: '169.254.0.0/16' }, 'Network 169.254.0.0/16 cannot be a pod network: it overlaps 169.254.0.0/16 (link-local)', HINT4],
    ['this network', { Network: '0.0.0.0/8' }, 'Network 0.0.0.0/8 cannot be a pod network: it overlaps 0.0.0.0/8 ("this network", never a destination)', HINT4],
    ['IPv6 link-local', v6('fe80::/56'), 'IPv6Network fe80::/56 cannot be a pod network: it overlaps fe80::/10 (link-local)', HINT6],
    ['IPv6 multicast', v6('ff02::/56'), 'IPv6Network ff02::/56 cannot be a pod network: it overlaps ff00::/8 (multicast)', HINT6],
    ['IPv6 loopback', v6('::/120'), 'IPv6Network ::/120 cannot be a pod network: it overlaps :: (the unspecified address)', HINT6],
  ];
  for (const [name, netconf, message, hint] of cases) it(name, () => rejects(netconf, message, hint));

  it('accepts the usual private ranges without a warning', () => {
    for (const net of ['10.244.0.0/16', '10.0.0.0/8', '100.64.0.0/10', '172.20.0.0/16']) {
      assert.deepEqual(parseNetworkConfig(JSON.stringify({ Network: net })).warnings, [], net);
    }
    assert.deepEqual(parseNetworkConfig(JSON.stringify(v6('fd00:10:244::/56'))).warnings, []);
  });
});

describe('networks where LANs commonly sit are accepted with a warning', () => {
  it('192.168.0.0/16 (the Calico default that swallows home and office LANs)', () => {
    assert.deepEqual(parseNetworkConfig('{"Network":"192.168.0.0/16"}').warnings, [
      'Network 192.168.0.0/16 overlaps 192.168.0.0/16, where home and office LANs commonly sit: if a node\'s own network lies in it, pods cannot reach that network and flanneld will not lease the subnets it covers; a range such as 10.244.0.0/16 avoids this',
    ]);
  });
  it('a part of 192.168.0.0/16, and Docker\'s bridge network', () => {
    assert.match(parseNetworkConfig('{"Network":"192.168.48.0/22"}').warnings[0] ?? '', /^Network 192\.168\.48\.0\/22 overlaps 192\.168\.0\.0\/16, where home and office LANs/);
    assert.match(parseNetworkConfig('{"Network":"172.16.0.0/12"}').warnings[0] ?? '', /^Network 172\.16\.0\.0\/12 overlaps 172\.17\.0\.0\/16, Docker's default bridge network \(docker0\)/);
  });
});

describe('SubnetMin and SubnetMax in CIDR form', () => {
  it('are read as their address when the prefix length is SubnetLen, with a warning', () => {
    const c = parseNetworkConfig('{"Network":"10.244.0.0/16","SubnetMin":"10.244.1.0/24","SubnetMax":"10.244.9.0/24"}', { source: 'net-conf.json' });
    assert.equal(c.v4?.subnetMin.toString(), '10.244.1.0/24');
    assert.equal(c.v4?.subnetMax.toString(), '10.244.9.0/24');
    assert.deepEqual(c.warnings, [
      'SubnetMin "10.244.1.0/24" is read as the address 10.244.1.0 (upstream flannel wants a plain address)',
      'SubnetMax "10.244.9.0/24" is read as the address 10.244.9.0 (upstream flannel wants a plain address)',
    ]);
  });
});
