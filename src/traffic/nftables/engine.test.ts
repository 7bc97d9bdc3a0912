import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Cidr } from '../../ip/index.ts';
import { createMemoryLogger } from '../../log/index.ts';
import { TrafficError } from '../../errors/index.ts';
import { createTrafficManager } from '../index.ts';
import { recordingRunner, type RecordedCall } from '../../exec/index.ts';

const load = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const never = new AbortController().signal;
const V4 = { network: Cidr.parse('10.244.0.0/16'), podSubnet: Cidr.parse('10.244.1.0/24') };
const V6 = { network: Cidr.parse('fd00:10:244::/56'), podSubnet: Cidr.parse('fd00:10:244:1::/64') };
const MISSING = { code: 1, stderr: 'Error: No such file or directory\nlist table ip flannel-ipv4\n              ^^^^^^^^^^^^\n' };

/** A pretend nft: `listings` keyed by table name ("flannel-ipv4"); missing tables answer like nft does. */
function fakeNft(opts: { fullyRandom?: boolean; listings?: Record<string, string> } = {}) {
  const listings: Record<string, string> = { ...opts.listings };
  const runner = recordingRunner((c: RecordedCall) => {
    if (c.args[0] === '-c') return opts.fullyRandom === false ? { code: 1, stderr: 'Error: Could not process rule: Operation not supported' } : undefined;
    if (c.args[0] === '-j') {
      const text = listings[c.args[4] ?? ''];
      return text === undefined ? MISSING : { stdout: text };
    }
    return undefined;
  });
  const log = createMemoryLogger();
  const tm = createTrafficManager({ kind: 'nftables', runner, log });
  const scripts = (): Array<string | undefined> => runner.calls.filter((c) => c.args.join(' ') === '-f -').map((c) => c.stdin);
  return { runner, tm, log, listings, scripts };
}

const FORWARD_ONLY_V4 = `table ip flannel-ipv4 {}
delete table ip flannel-ipv4
table ip flannel-ipv4 {
	comment "rules for flannel-ipv4"
	chain forward {
		comment "chain to accept flannel traffic"
		type filter hook forward priority filter; policy accept;
		ip saddr 10.244.0.0/16 accept
		ip daddr 10.244.0.0/16 accept
	}
}
`;

describe('nftables engine: what runs', () => {
  it('IPv4: lists the table, then replaces it with everything asked for so far', async () => {
    const h = fakeNft();
    await h.tm.ensureForwardRules({ v4: V4 }, never);
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    assert.deepEqual(h.runner.lines(), [
      'nft -j list table ip flannel-ipv4',
      'nft -f -',
      'nft -c -f -',
      'nft -j list table ip flannel-ipv4',
      'nft -f -',
    ]);
    const [first, second] = h.scripts();
    assert.equal(first, FORWARD_ONLY_V4);
    assert.match(second ?? '', /^table ip flannel-ipv4 \{\}\ndelete table ip flannel-ipv4\ntable ip flannel-ipv4 \{\n/);
    assert.ok(second?.includes('\t\tip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random\n'));
    assert.ok(second?.includes('\tchain forward {\n'));
  });

  it('dual stack: one script per family, ip6 for IPv6', async () => {
    const h = fakeNft();
    await h.tm.ensureMasqRules({ v4: V4, v6: V6 }, { fullyRandom: false }, never);
    assert.deepEqual(h.runner.lines(), ['nft -j list table ip flannel-ipv4', 'nft -f -', 'nft -j list table ip6 flannel-ipv6', 'nft -f -']);
    const [v4, v6] = h.scripts();
    assert.ok(v4?.includes('\t\tip saddr != 10.244.0.0/16 ip daddr 10.244.0.0/16 masquerade\n'));
    assert.ok(v6?.startsWith('table ip6 flannel-ipv6 {}\ndelete table ip6 flannel-ipv6\ntable ip6 flannel-ipv6 {\n'));
    assert.ok(v6?.includes('\t\tip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade\n'));
  });

  it('probes fully-random once and drops it when unsupported', async () => {
    const h = fakeNft({ fullyRandom: false });
    await h.tm.ensureMasqRules({ v4: V4, v6: V6 }, { fullyRandom: true }, never);
    assert.equal(h.runner.lines().filter((l) => l === 'nft -c -f -').length, 1);
    assert.ok(h.scripts().every((s) => s !== undefined && !s.includes('fully-random')));
    assert.ok(h.log.lines.some((l) => l.level === 'warn' && l.msg.includes('fully-random')));
  });

  it('applies nothing when the installed tables match (idempotent ensure)', async () => {
    const h = fakeNft({ listings: { 'flannel-ipv4': load('flannel-ipv4.json'), 'flannel-ipv6': load('flannel-ipv6.json') } });
    // Forward first: the postrtg chain nobody asked about yet is kept, not flagged.
    await h.tm.ensureForwardRules({ v4: V4, v6: V6 }, never);
    await h.tm.ensureMasqRules({ v4: V4, v6: V6 }, { fullyRandom: true }, never);
    await h.tm.ensureMasqRules({ v4: V4, v6: V6 }, { fullyRandom: true }, never);
    assert.deepEqual(h.scripts(), []);
    assert.deepEqual(await h.tm.resync(never), { repaired: [] });
    assert.deepEqual(h.scripts(), []);
  });

  it('keeps a chain not asked about yet when it must replace the table', async () => {
    const kept = 'table ip flannel-ipv4 {\n\tchain postrtg {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t}\n}\n';
    const h = fakeNft({ listings: { 'flannel-ipv4': load('flannel-ipv4.json') } });
    const orig = h.runner.run.bind(h.runner);
    h.runner.run = async (command, args, options) => {
      const res = await orig(command, args, options);
      return args[0] === 'list' ? { ...res, stdout: kept } : res;
    };
    await h.tm.ensureForwardRules({ v4: { network: Cidr.parse('10.245.0.0/16'), podSubnet: Cidr.parse('10.245.1.0/24') } }, never);
    assert.deepEqual(h.runner.lines(), ['nft -j list table ip flannel-ipv4', 'nft list chain ip flannel-ipv4 postrtg', 'nft -f -']);
    const [script] = h.scripts();
    assert.ok(script?.startsWith('table ip flannel-ipv4 {}\ndelete table ip flannel-ipv4\ntable ip flannel-ipv4 {\n'));
    assert.ok(script?.includes('\t\tip saddr 10.245.0.0/16 accept\n'));
    assert.ok(script?.endsWith(kept));
  });

  it('reports nft failures with the command and stderr', async () => {
    const runner = recordingRunner((c) => (c.args[0] === '-f' ? { code: 1, stderr: 'Error: Could not process rule: No such file or directory\n' } : MISSING));
    const tm = createTrafficManager({ kind: 'nftables', runner, log: createMemoryLogger() });
    await assert.rejects(tm.ensureForwardRules({ v4: V4 }, never), (err: unknown) => {
      assert.ok(err instanceof TrafficError);
      assert.equal(err.message, '"nft -f -" failed with exit code 1: Error: Could not process rule: No such file or directory');
      return true;
    });
  });

  it('does not mistake other list errors for a missing table', async () => {
    const runner = recordingRunner(() => ({ code: 1, stderr: 'Error: Operation not permitted' }));
    const tm = createTrafficManager({ kind: 'nftables', runner, log: createMemoryLogger() });
    await assert.rejects(tm.ensureForwardRules({ v4: V4 }, never), /"nft -j list table ip flannel-ipv4" failed with exit code 1: Error: Operation not permitted/);
  });
});

describe('nftables engine: resync and clean-up', () => {
  it('replaces the table when a rule was deleted by hand', async () => {
    const h = fakeNft({ listings: { 'flannel-ipv4': load('flannel-ipv4.json') } });
    await h.tm.ensureForwardRules({ v4: V4 }, never);
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: true }, never);
    const applied = h.scripts().length;
    const doc = JSON.parse(load('flannel-ipv4.json')) as { nftables: unknown[] };
    doc.nftables.splice(5, 1);
    h.listings['flannel-ipv4'] = JSON.stringify(doc);
    assert.deepEqual(await h.tm.resync(never), { repaired: ['nftables ipv4 ip flannel-ipv4/postrtg: 1 rule(s) missing, 0 unexpected'] });
    assert.equal(h.scripts().length, applied + 1);
  });

  it('deletes a family dropped via previous', async () => {
    const h = fakeNft({ listings: { 'flannel-ipv6': load('flannel-ipv6.json') } });
    await h.tm.ensureMasqRules({ v4: V4 }, { fullyRandom: false, previous: { v6: V6 } }, never);
    assert.equal(h.scripts().at(-1), 'table ip6 flannel-ipv6 {}\ndelete table ip6 flannel-ipv6\n');
  });

  it('cleanUp deletes both tables in one transaction', async () => {
    const h = fakeNft();
    await h.tm.cleanUp(never);
    assert.deepEqual(h.runner.lines(), ['nft -f -']);
    assert.equal(h.scripts()[0], 'table ip flannel-ipv4 {}\ndelete table ip flannel-ipv4\ntable ip6 flannel-ipv6 {}\ndelete table ip6 flannel-ipv6\n');
  });
});
