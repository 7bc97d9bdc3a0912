import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cidr } from '../ip/index.ts';
import { createMemoryLogger } from '../log/index.ts';
import { TrafficError } from '../errors/index.ts';
import { EngineTrafficManager } from './manager.ts';
import { runResyncLoop } from './resync-loop.ts';
import type { FamilyRules, RuleEngine, RuleKind } from './rule-engine.ts';
import type { FamilyKey, TrafficManager } from './traffic-manager.ts';

const never = new AbortController().signal;
const V4 = { network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') };
const V6 = { network: Cidr.parse('fd00:10:244::/56'), podSubnet: Cidr.parse('fd00:10:244:1::/64') };

interface SyncCall {
  family: FamilyKey;
  want: FamilyRules;
  focus: RuleKind | undefined;
}

/** An engine that records what it is asked; `answer` decides what it reports as repaired. */
function fakeEngine(answer: (c: SyncCall) => Promise<string[]> | string[] = () => []) {
  const syncs: SyncCall[] = [];
  let cleanUps = 0;
  const engine: RuleEngine = {
    kind: 'iptables',
    async sync(family, want, _signal, focus) {
      const call = { family, want: structuredClone(want), focus };
      syncs.push(call);
      return answer(call);
    },
    async cleanUp() {
      cleanUps++;
    },
  };
  return { engine, syncs, cleanUps: () => cleanUps };
}

describe('EngineTrafficManager', () => {
  it('rejects networks of the wrong family', async () => {
    const tm = new EngineTrafficManager(fakeEngine().engine, createMemoryLogger());
    assert.throws(() => tm.ensureForwardRules({ v4: V6 }, never), (err: unknown) => err instanceof TrafficError && err.code === 'E_TRAFFIC_FAMILY');
    assert.throws(() => tm.ensureMasqRules({ v6: { network: V6.network, podSubnet: V4.podSubnet } }, { fullyRandom: true }, never), /v6\.podSubnet 10\.244\.1\.0\/24 is not an IPv6 network/);
  });

  it('asks the engine per family, keyed, with the kind in focus', async () => {
    const f = fakeEngine();
    const tm = new EngineTrafficManager(f.engine, createMemoryLogger());
    await tm.ensureForwardRules({ v4: V4, v6: V6 }, never);
    await tm.ensureMasqRules({ v6: V6 }, { fullyRandom: true }, never);
    assert.deepEqual(
      f.syncs.map((s) => [s.family, s.focus, Object.keys(s.want).sort().join(',')]),
      [
        ['v4', 'forward', 'forward'],
        ['v6', 'forward', 'forward'],
        ['v6', 'masq', 'forward,masq'],
      ],
    );
  });

  it('turns a dropped family into a one-off removal', async () => {
    const f = fakeEngine();
    const tm = new EngineTrafficManager(f.engine, createMemoryLogger());
    await tm.ensureMasqRules({ v4: V4, v6: V6 }, { fullyRandom: true }, never);
    await tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    assert.equal(f.syncs.at(-1)?.family, 'v6');
    assert.equal(f.syncs.at(-1)?.want.masq, 'absent');
    f.syncs.length = 0;
    await tm.resync(never);
    assert.deepEqual(f.syncs.map((s) => s.family), ['v4']);
  });

  it('resync reports repairs prefixed with kind and family; failures are TrafficErrors', async () => {
    const f = fakeEngine((c) => {
      if (c.family === 'v6') throw new TrafficError('E_TRAFFIC_COMMAND', 'ip6tables-restore failed');
      return ['nat/FLANNEL-POSTRTG: chain missing'];
    });
    const tm = new EngineTrafficManager(f.engine, createMemoryLogger());
    await tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    assert.deepEqual(await tm.resync(never), { repaired: ['iptables ipv4 nat/FLANNEL-POSTRTG: chain missing'] });
    await assert.rejects(tm.ensureMasqRules({ v4: V4, v6: V6 }, { fullyRandom: true }, never), /ip6tables-restore failed/);
    // The wanted state stays: the next resync retries v6.
    await assert.rejects(tm.resync(never), { code: 'E_TRAFFIC_COMMAND' });
  });

  it('never runs two operations at once', async () => {
    let running = 0;
    let most = 0;
    const f = fakeEngine(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return [];
    });
    const tm = new EngineTrafficManager(f.engine, createMemoryLogger());
    await Promise.all([tm.ensureForwardRules({ v4: V4 }, never), tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never), tm.resync(never), tm.resync(never)]);
    assert.equal(most, 1);
  });

  it('cleanUp forgets the wanted state', async () => {
    const f = fakeEngine();
    const tm = new EngineTrafficManager(f.engine, createMemoryLogger());
    await tm.ensureForwardRules({ v4: V4 }, never);
    await tm.cleanUp(never);
    assert.equal(f.cleanUps(), 1);
    f.syncs.length = 0;
    await tm.resync(never);
    assert.deepEqual(f.syncs, []);
  });
});

describe('runResyncLoop', () => {
  function scripted(results: Array<string[] | Error>): TrafficManager & { calls: number } {
    const tm = {
      kind: 'nftables' as const,
      calls: 0,
      ensureForwardRules: async () => [],
      ensureMasqRules: async () => [],
      cleanUp: async () => {},
      async resync() {
        const r = results[tm.calls++ % results.length];
        if (r instanceof Error) throw r;
        return { repaired: r ?? [] };
      },
    };
    return tm;
  }

  it('logs repairs at info and failures at warn, and returns when aborted', async () => {
    const tm = scripted([[], ['nftables ipv4 table ip flannel-ipv4: missing'], new TrafficError('E_TRAFFIC_COMMAND', 'nft -f - failed')]);
    const log = createMemoryLogger();
    const ac = new AbortController();
    const loop = runResyncLoop(tm, 2, ac.signal, log);
    while (tm.calls < 6) await new Promise((r) => setTimeout(r, 2));
    ac.abort();
    await loop; // resolves, never rejects
    assert.ok(log.lines.some((l) => l.level === 'info' && JSON.stringify(l.fields).includes('flannel-ipv4: missing')));
    assert.ok(log.lines.some((l) => l.level === 'warn' && JSON.stringify(l.fields).includes('nft -f - failed')));
  });

  it('returns at once for an aborted signal', async () => {
    const tm = scripted([[]]);
    await runResyncLoop(tm, 10_000, AbortSignal.abort(), createMemoryLogger());
    assert.equal(tm.calls, 0);
  });
});
