import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Cidr } from '../../ip/index.ts';
import { createMemoryLogger } from '../../log/index.ts';
import { TrafficError } from '../../errors/index.ts';
import { createTrafficManager } from '../index.ts';
import { recordingRunner, type RecordedCall } from '../../exec/index.ts';
import type { TrafficNetworks } from '../traffic-manager.ts';

const load = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const EMPTY = { nat: load('empty-nat.save'), filter: load('empty-filter.save') };
const never = new AbortController().signal;

const V4 = { network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') };
const V6 = { network: Cidr.parse('fd00:10:244::/56'), podSubnet: Cidr.parse('fd00:10:244:1::/64') };

/** A pretend host: answers --version and -save from `saves` (keyed `iptables-save nat`), records the rest. */
function fakeHost(opts: { version?: string; saves?: Record<string, string> } = {}) {
  const saves: Record<string, string> = { ...opts.saves };
  const runner = recordingRunner((c: RecordedCall) => {
    if (c.args[0] === '--version') return { stdout: `${c.command} v${opts.version ?? '1.8.9'} (nf_tables)\n` };
    if (c.command.endsWith('-save')) {
      const table = (name: 'nat' | 'filter'): string => saves[`${c.command} ${name}`] ?? EMPTY[name];
      // Without -t, iptables-save prints every table it has, one after the other.
      return { stdout: c.args[0] === '-t' ? table(c.args[1] as 'nat' | 'filter') : table('filter') + table('nat') };
    }
    return undefined;
  });
  const log = createMemoryLogger();
  const tm = createTrafficManager({ kind: 'iptables', runner, log });
  const restores = (): RecordedCall[] => runner.calls.filter((c) => c.command.endsWith('-restore'));
  return { runner, tm, log, saves, restores };
}

const MASQ_V4 = (masq: string) => `*nat
:FLANNEL-POSTRTG - [0:0]
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j ${masq}
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j ${masq}
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
COMMIT
`;

const MASQ_V6 = `*nat
:FLANNEL-POSTRTG - [0:0]
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s fd00:10:244:1::/64 -d fd00:10:244::/56 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s fd00:10:244::/56 -d fd00:10:244:1::/64 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s fd00:10:244::/56 -d fd00:10:244:1::/64 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s fd00:10:244::/56 -d fd00:10:244::/56 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
COMMIT
`;

const FWD = (net: string) => `*filter
:FLANNEL-FWD - [0:0]
-A FLANNEL-FWD -s ${net} -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d ${net} -m comment --comment "flanneld forward" -j ACCEPT
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
COMMIT
`;

describe('iptables engine: what runs', () => {
  it('IPv4 masquerade: version check, save, one restore -w --noflush', async () => {
    const h = fakeHost();
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    assert.deepEqual(h.runner.lines(), ['iptables --version', 'iptables-save -t nat', 'iptables-restore -w --noflush']);
    assert.equal(h.restores()[0]?.stdin, MASQ_V4('MASQUERADE --random-fully'));
  });

  it('IPv4 masquerade without --random-fully when disabled', async () => {
    const h = fakeHost();
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: false }, never);
    assert.equal(h.restores()[0]?.stdin, MASQ_V4('MASQUERADE'));
  });

  it('drops --random-fully and -w on iptables older than 1.6.2', async () => {
    const h = fakeHost({ version: '1.6.1' });
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    const [restore] = h.restores();
    assert.deepEqual(restore?.args, ['--noflush']);
    assert.equal(restore?.stdin, MASQ_V4('MASQUERADE'));
    assert.ok(h.log.lines.some((l) => l.level === 'warn' && l.msg.includes('predates --random-fully')));
  });

  it('IPv6 uses the ip6tables tools and ff00::/8', async () => {
    const h = fakeHost();
    await h.tm.ensureMasqRules({ v6: V6 }, { fullyRandom: true }, never);
    assert.deepEqual(h.runner.lines(), ['ip6tables --version', 'ip6tables-save -t nat', 'ip6tables-restore -w --noflush']);
    assert.equal(h.restores()[0]?.stdin, MASQ_V6);
  });

  it('dual stack: forward then masquerade, one restore per family and call', async () => {
    const h = fakeHost();
    const nets: TrafficNetworks = { v4: V4, v6: V6 };
    await h.tm.ensureForwardRules(nets, never);
    await h.tm.ensureMasqRules(nets, { fullyRandom: true }, never);
    assert.deepEqual(h.runner.lines(), [
      'iptables --version',
      'iptables-save -t filter',
      'iptables-restore -w --noflush',
      'ip6tables --version',
      'ip6tables-save -t filter',
      'ip6tables-restore -w --noflush',
      'iptables-save -t nat',
      'iptables-restore -w --noflush',
      'ip6tables-save -t nat',
      'ip6tables-restore -w --noflush',
    ]);
    assert.deepEqual(
      h.restores().map((c) => c.stdin),
      [FWD('10.244.0.0/16'), FWD('fd00:10:244::/56'), MASQ_V4('MASQUERADE --random-fully'), MASQ_V6],
    );
  });

  it('runs no restore when everything is in place (idempotent ensure)', async () => {
    const h = fakeHost({ saves: { 'iptables-save nat': load('kube-nat.save'), 'iptables-save filter': load('kube-filter.save') } });
    await h.tm.ensureForwardRules({ v4: V4 }, never);
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    assert.deepEqual(h.restores(), []);
  });

  it('throws a TrafficError naming the command and its stderr', async () => {
    const runner = recordingRunner((c) => {
      if (c.args[0] === '--version') return { stdout: 'iptables v1.8.9 (nf_tables)' };
      if (c.command === 'iptables-restore') return { code: 2, stderr: 'iptables-restore: line 3 failed\n' };
      return c.command.endsWith('-save') ? { stdout: EMPTY.nat } : undefined;
    });
    const tm = createTrafficManager({ kind: 'iptables', runner, log: createMemoryLogger() });
    await assert.rejects(tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never), (err: unknown) => {
      assert.ok(err instanceof TrafficError);
      assert.equal(err.code, 'E_TRAFFIC_COMMAND');
      assert.match(err.message, /^"iptables-restore -w --noflush" failed with exit code 2: iptables-restore: line 3 failed$/);
      return true;
    });
  });

  it('says so when iptables is not installed', async () => {
    const runner = recordingRunner(() => ({ code: 127, stderr: 'iptables: command not found' }));
    const tm = createTrafficManager({ kind: 'iptables', runner, log: createMemoryLogger() });
    await assert.rejects(tm.ensureForwardRules({ v4: V4 }, never), { code: 'E_TRAFFIC_NOT_FOUND' });
  });
});

describe('iptables engine: resync', () => {
  const KUBE_NAT = load('kube-nat.save');
  const RULE3 = '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN\n';

  it('does nothing before any ensure', async () => {
    const h = fakeHost();
    assert.deepEqual(await h.tm.resync(never), { repaired: [] });
    assert.deepEqual(h.runner.calls, []);
  });

  it('repairs a rule deleted by hand and leaves KUBE-* alone', async () => {
    const h = fakeHost({ saves: { 'iptables-save nat': KUBE_NAT } });
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    assert.deepEqual(await h.tm.resync(never), { repaired: [] });
    assert.deepEqual(h.restores(), []);

    h.saves['iptables-save nat'] = KUBE_NAT.replace(RULE3, '');
    const { repaired } = await h.tm.resync(never);
    assert.deepEqual(repaired, ['iptables ipv4 nat/FLANNEL-POSTRTG: 1 rule(s) missing, 0 unexpected']);
    const [restore] = h.restores();
    assert.equal(restore?.stdin, MASQ_V4('MASQUERADE --random-fully').replace('-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n', ''));
    assert.ok(!restore?.stdin?.includes('KUBE'));
  });

  it('re-adds a lost jump', async () => {
    const h = fakeHost({ saves: { 'iptables-save nat': KUBE_NAT } });
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    h.saves['iptables-save nat'] = KUBE_NAT.replace('-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n', '');
    assert.deepEqual((await h.tm.resync(never)).repaired, ['iptables ipv4 nat/POSTROUTING: jump to FLANNEL-POSTRTG missing']);
    assert.match(h.restores()[0]?.stdin ?? '', /\n-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\nCOMMIT\n$/);
  });

  it('with forward and masquerade rules, reads both tables with one iptables-save per family and repairs both in one restore', async () => {
    const h = fakeHost({ saves: { 'iptables-save nat': KUBE_NAT, 'iptables-save filter': load('kube-filter.save') } });
    await h.tm.ensureForwardRules({ v4: V4 }, never);
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    const before = h.runner.calls.length;
    assert.deepEqual(await h.tm.resync(never), { repaired: [] });
    assert.deepEqual(h.runner.lines().slice(before), ['iptables-save']);

    h.saves['iptables-save nat'] = KUBE_NAT.replace(RULE3, '');
    h.saves['iptables-save filter'] = EMPTY.filter;
    const { repaired } = await h.tm.resync(never);
    assert.deepEqual(repaired, ['iptables ipv4 filter/FLANNEL-FWD: chain missing', 'iptables ipv4 filter/FORWARD: jump to FLANNEL-FWD missing', 'iptables ipv4 nat/FLANNEL-POSTRTG: 1 rule(s) missing, 0 unexpected']);
    assert.deepEqual(h.runner.lines().slice(before + 1), ['iptables-save', 'iptables-restore -w --noflush']);
    const stdin = h.restores().at(-1)?.stdin ?? '';
    assert.ok(stdin.startsWith('*filter\n:FLANNEL-FWD - [0:0]\n') && stdin.includes('COMMIT\n*nat\n:FLANNEL-POSTRTG - [0:0]\n'), stdin);
  });
});

describe('iptables engine: removal and clean-up', () => {
  it('removes the masquerade chain of a family that is in previous but no longer configured', async () => {
    const h = fakeHost({ saves: { 'ip6tables-save nat': MASQ_V6.replace('*nat\n', '*nat\n:POSTROUTING ACCEPT [0:0]\n') } });
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true, previous: { v4: V4, v6: V6 } }, never);
    const [v4, v6] = h.restores();
    assert.equal(v4?.command, 'iptables-restore');
    assert.equal(v6?.command, 'ip6tables-restore');
    assert.equal(v6?.stdin, '*nat\n-D POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n-F FLANNEL-POSTRTG\n-X FLANNEL-POSTRTG\nCOMMIT\n');
  });

  it('removes a family dropped between two ensure calls, then stops watching it', async () => {
    const h = fakeHost();
    await h.tm.ensureForwardRules({ v4: V4, v6: V6 }, never);
    h.saves['ip6tables-save filter'] = load('kube-filter.save').replaceAll('10.244.0.0/16', 'fd00:10:244::/56');
    await h.tm.ensureForwardRules({ v4: V4 }, never);
    const last = h.restores().at(-1);
    assert.equal(last?.command, 'ip6tables-restore');
    assert.equal(last?.stdin, '*filter\n-D FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD\n-F FLANNEL-FWD\n-X FLANNEL-FWD\nCOMMIT\n');
    const before = h.runner.calls.length;
    await h.tm.resync(never);
    assert.ok(h.runner.calls.slice(before).every((c) => c.command.startsWith('iptables')));
  });

  it('cleanUp removes both chains in both families, FLANNEL-FWD from filter', async () => {
    const h = fakeHost({
      saves: {
        'iptables-save nat': load('kube-nat.save'),
        'iptables-save filter': load('kube-filter.save'),
      },
    });
    await h.tm.cleanUp(never);
    assert.deepEqual(h.runner.lines(), [
      'iptables-save -t nat',
      'iptables-save -t filter',
      'iptables --version',
      'iptables-restore -w --noflush',
      'ip6tables-save -t nat',
      'ip6tables-save -t filter',
    ]);
    assert.equal(
      h.restores()[0]?.stdin,
      '*nat\n-D POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG\n-F FLANNEL-POSTRTG\n-X FLANNEL-POSTRTG\nCOMMIT\n' +
        '*filter\n-D FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD\n-F FLANNEL-FWD\n-X FLANNEL-FWD\nCOMMIT\n',
    );
  });

  it('cleanUp skips a family whose tables cannot be read', async () => {
    const runner = recordingRunner((c) => (c.command.startsWith('ip6tables') ? { code: 127 } : { stdout: EMPTY.nat }));
    const tm = createTrafficManager({ kind: 'iptables', runner, log: createMemoryLogger() });
    await tm.cleanUp(never);
    assert.ok(!runner.calls.some((c) => c.command.endsWith('-restore')));
  });

  it('forgets what it installed: resync after cleanUp re-adds nothing', async () => {
    const h = fakeHost();
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    await h.tm.cleanUp(never);
    const before = h.runner.calls.length;
    assert.deepEqual(await h.tm.resync(never), { repaired: [] });
    assert.equal(h.runner.calls.length, before);
  });
});
