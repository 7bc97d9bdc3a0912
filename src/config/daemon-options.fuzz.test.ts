import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError } from '../errors/index.ts';
import { IPAddress } from '../ip/index.ts';
import { fuzzParams, mutated, onlyFlannelErrors, repeated } from '../../test/harness/fuzz.ts';
import { kernelLacksVxlanChecksumFix, parseDaemonOptions, type DaemonOptions } from './daemon-options.ts';
import { envName, FLAGS } from './flags.ts';

// ---- a model of a valid command line -------------------------------------------------------

/** One flag's valid value as it is written, and how to read the same value back out of DaemonOptions. */
interface Setting {
  readonly name: string;
  /** Values as given (several for a repeated list flag). */
  readonly values: readonly string[];
  readonly expected: string;
  readonly read: (o: DaemonOptions) => string;
}

const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);
const path = fc.array(word, { minLength: 1, maxLength: 4 }).map((ws) => `/${ws.join('/')}`);
const v4 = fc.bigInt({ min: 1n, max: 0xffffffffn }).map((v) => IPAddress.fromBigInt(4, v));
const v6 = fc.bigInt({ min: 1n, max: (1n << 128n) - 1n }).map((v) => IPAddress.fromBigInt(6, v));
const ipText = (ip: fc.Arbitrary<IPAddress>): fc.Arbitrary<string> => fc.oneof(ip.map(String), ip.map((a) => a.toString().toUpperCase()));
const intText = (min: number, max: number): fc.Arbitrary<{ text: string; n: number }> =>
  fc.tuple(fc.integer({ min, max }), fc.nat({ max: 2 })).map(([n, zeros]) => ({ text: '0'.repeat(zeros) + String(n), n }));
const boolText = fc.constantFrom('1', 't', 'T', 'true', 'TRUE', 'True', '0', 'f', 'F', 'false', 'FALSE', 'False');
const asBool = (t: string): boolean => ['1', 't', 'true'].includes(t.toLowerCase());
const url = fc
  .tuple(fc.constantFrom('http', 'https', 'HTTP'), fc.oneof(v4.map(String), v6.map((a) => `[${a.toString()}]`), fc.domain()), fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }))
  .map(([scheme, host, port]) => `${scheme}://${host}${port ? `:${port}` : ''}`);

const one = (name: string, value: string, expected: string, read: (o: DaemonOptions) => string): Setting => ({ name, values: [value], expected, read });
const boolSetting = (name: string, read: (o: DaemonOptions) => boolean): fc.Arbitrary<Setting> => boolText.map((t) => one(name, t, String(asBool(t)), (o) => String(read(o))));
const intSetting = (name: string, min: number, max: number, read: (o: DaemonOptions) => number): fc.Arbitrary<Setting> =>
  intText(min, max).map(({ text, n }) => one(name, text, String(n), (o) => String(read(o))));
const stringSetting = (name: string, value: fc.Arbitrary<string>, read: (o: DaemonOptions) => string | undefined): fc.Arbitrary<Setting> => value.map((v) => one(name, v, v, (o) => read(o) ?? ''));

/** Settings that combine freely; the interface choice, TLS files and credentials are added as groups. */
const independent: ReadonlyArray<fc.Arbitrary<Setting>> = [
  fc.array(url, { minLength: 1, maxLength: 3 }).map((us) => one('etcd-endpoints', us.join(','), us.join(','), (o) => o.etcd.endpoints.join(','))),
  stringSetting('etcd-prefix', path, (o) => o.etcd.prefix),
  stringSetting('etcd-cafile', path, (o) => o.etcd.caFile),
  boolSetting('kube-subnet-mgr', (o) => o.subnetManager === 'kube'),
  stringSetting('kube-api-url', url, (o) => o.kube.apiUrl),
  stringSetting('kubeconfig-file', path, (o) => o.kube.kubeconfigFile),
  stringSetting('kube-annotation-prefix', fc.constantFrom('flannel.alpha.coreos.com', 'example.com/flannel'), (o) => o.kube.annotationPrefix),
  stringSetting('net-config-path', path, (o) => o.kube.netConfigPath),
  stringSetting('subnet-file', path, (o) => o.subnetFile),
  ipText(v4).map((t) => one('public-ip', t, IPAddress.parse(t).toString(), (o) => o.interfaces.publicIP?.toString() ?? '')),
  ipText(v6).map((t) => one('public-ipv6', t, IPAddress.parse(t).toString(), (o) => o.interfaces.publicIPv6?.toString() ?? '')),
  intSetting('subnet-lease-renew-margin', 1, 1439, (o) => o.subnetLeaseRenewMarginMinutes),
  boolSetting('ip-masq', (o) => o.ipMasq),
  boolSetting('ip-masq-fully-random-disable', (o) => !o.ipMasqFullyRandom),
  intSetting('iptables-resync', 1, 86400, (o) => o.iptablesResyncSeconds),
  boolSetting('iptables-forward-rules', (o) => o.iptablesForwardRules),
  intSetting('healthz-port', 1, 65535, (o) => o.healthz?.port ?? 0),
  boolSetting('set-node-network-unavailable', (o) => o.kube.setNodeNetworkUnavailable),
  boolSetting('vxlan-disable-tx-checksum-offload', (o) => o.vxlanDisableTxChecksumOffload),
  stringSetting('log-format', fc.constantFrom('json', 'text'), (o) => o.logFormat),
  intSetting('v', 0, 10, (o) => o.verbosity),
];
const ifaceChoice: fc.Arbitrary<Setting[]> = fc.oneof(
  fc.constant([] as Setting[]),
  fc.array(fc.oneof(fc.stringMatching(/^[a-z][a-z0-9.]{0,10}$/), v4.map(String)), { minLength: 1, maxLength: 3 }).map((xs) => [{ name: 'iface', values: xs, expected: xs.join(','), read: (o: DaemonOptions) => o.interfaces.iface.join(',') }]),
  fc.array(fc.constantFrom('^eth', 'en[a-z0-9]+', '^(eth|ens)\\d+$', '192\\.168\\..*', 'wl.*'), { minLength: 1, maxLength: 3 }).map((xs) => [
    { name: 'iface-regex', values: xs, expected: xs.join('\n'), read: (o: DaemonOptions) => o.interfaces.ifaceRegex.map((r) => r.source).join('\n') },
  ]),
  ipText(fc.oneof(v4, v6)).map((t) => [one('iface-can-reach', t, IPAddress.parse(t).toString(), (o) => o.interfaces.ifaceCanReach?.toString() ?? '')]),
);
const tlsAndAuth: fc.Arbitrary<Setting[]> = fc.tuple(fc.option(fc.tuple(path, path), { nil: undefined }), fc.option(fc.tuple(word, fc.option(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.startsWith('-')), { nil: undefined })), { nil: undefined })).map(([tls, auth]) => [
  ...(tls ? [one('etcd-keyfile', tls[0], tls[0], (o) => o.etcd.keyFile ?? ''), one('etcd-certfile', tls[1], tls[1], (o) => o.etcd.certFile ?? '')] : []),
  ...(auth ? [one('etcd-username', auth[0], auth[0], (o) => o.etcd.username ?? '')] : []),
  ...(auth?.[1] !== undefined ? [one('etcd-password', auth[1], auth[1], (o) => o.etcd.password ?? '')] : []),
]);
const settings: fc.Arbitrary<Setting[]> = fc
  .tuple(fc.subarray([...independent.keys()]), ifaceChoice, tlsAndAuth)
  .chain(([picked, iface, tls]) => fc.tuple(...picked.map((i) => independent[i] as fc.Arbitrary<Setting>)).map((s) => [...s, ...iface, ...tls]));

type Place = 'flag' | 'env' | 'both';
interface CommandLine {
  settings: Setting[];
  argv: string[];
  env: Record<string, string>;
}
const KINDS = new Map(FLAGS.map((f) => [f.name, f.kind]));

/** Writes each setting as a flag (in one of Go's spellings), a FLANNELD_* variable, or both (the flag must win). */
const commandLine: fc.Arbitrary<CommandLine> = settings.chain((ss) =>
  fc.tuple(fc.array(fc.tuple(fc.constantFrom<Place>('flag', 'env', 'both'), fc.nat({ max: 3 })), { minLength: ss.length, maxLength: ss.length }), fc.nat()).map(([places, seed]) => {
    const argv: string[][] = [];
    const env: Record<string, string> = {};
    for (const [i, s] of ss.entries()) {
      const [place, style] = places[i] ?? ['flag', 0];
      const kind = KINDS.get(s.name);
      const joined = kind === 'list' ? s.values.join(',') : (s.values[0] ?? '');
      if (place !== 'flag') {
        // A value the flag must override: a decoy when both are set.
        env[envName(s.name)] = place === 'both' && kind !== 'list' ? decoy(s) : joined;
        if (place === 'both' && kind === 'list' && s.name === 'iface') env[envName(s.name)] = 'decoy0';
        if (place === 'both' && kind === 'list' && s.name === 'iface-regex') env[envName(s.name)] = '^decoy';
      }
      if (place === 'env') continue;
      for (const v of s.values) {
        const dash = style % 2 === 0 ? '--' : '-';
        if (kind === 'bool' && asBool(v) && style >= 2) argv.push([`${dash}${s.name}`]);
        else if (kind === 'bool' || style >= 2) argv.push([`${dash}${s.name}=${v}`]);
        else argv.push([`${dash}${s.name}`, v]);
      }
    }
    // Flags in any order (repeated list flags keep theirs: they are appended in order).
    const order = argv.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 101) - ((b * 7919 + seed) % 101));
    const byName = new Map<string, number[]>();
    for (const i of order) {
      const name = (argv[i]?.[0] ?? '').replace(/^-+/, '').split('=')[0] ?? '';
      byName.set(name, [...(byName.get(name) ?? []), i]);
    }
    const stable = [...byName.values()].flatMap((is) => [...is].sort((a, b) => a - b));
    return { settings: ss, argv: stable.flatMap((i) => argv[i] ?? []), env };
  }),
);

function decoy(s: Setting): string {
  switch (KINDS.get(s.name)) {
    case 'bool':
      return asBool(s.values[0] ?? '') ? 'false' : 'true';
    case 'int':
      return s.name === 'v' ? (s.expected === '0' ? '1' : '0') : s.expected === '1' ? '2' : '1';
    default:
      if (s.name === 'public-ip') return s.expected === '10.9.9.9' ? '10.9.9.8' : '10.9.9.9';
      if (s.name === 'public-ipv6') return s.expected === 'fd00::99' ? 'fd00::98' : 'fd00::99';
      if (s.name === 'iface-can-reach') return s.expected === '10.9.9.9' ? '10.9.9.8' : '10.9.9.9';
      if (s.name === 'etcd-endpoints' || s.name === 'kube-api-url') return 'http://decoy.example:1';
      if (s.name === 'log-format') return s.expected === 'json' ? 'text' : 'json';
      if (s.name === 'kube-annotation-prefix') return s.expected === 'decoy.example' ? 'decoy2.example' : 'decoy.example';
      return `${s.values[0] ?? ''}x`;
  }
}

const ARG_TOKENS = fc.constantFrom('-', '--', '=', '==', ' ', '-v', '--v', '--help', '-h', '--iface', '--iface=', '--iface-regex=[', '--etcd-endpoints=', '--unknown', 'x', '-1', '"', '\0', '/', ':', '');

// ---- properties -----------------------------------------------------------------------------

describe('fuzz: flanneld flags and FLANNELD_* variables', () => {
  it('every valid setting reads back, in every spelling, with flags winning over the environment', () => {
    fc.assert(
      fc.property(commandLine, ({ settings: ss, argv, env }) => {
        const o = parseDaemonOptions(argv, env, '6.1.0');
        for (const s of ss) assert.equal(s.read(o), s.expected, `${s.name} from argv ${JSON.stringify(argv)} env ${JSON.stringify(env)}`);
        assert.ok(Object.isFrozen(o) && Object.isFrozen(o.etcd) && Object.isFrozen(o.interfaces));
      }),
      fuzzParams(),
    );
  });

  it('only ConfigError escapes from mutated command lines and environments', () => {
    const damaged = fc
      .tuple(
        commandLine,
        fc.array(fc.tuple(fc.nat(), mutated(fc.constant(''), ARG_TOKENS)), { maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 3 }),
        fc.array(fc.tuple(fc.constantFrom(...FLAGS.map((f) => envName(f.name))), fc.oneof(ARG_TOKENS, fc.string({ maxLength: 12 }), repeated(fc.constantFrom(',', 'a,', '[', 'http://x,'), 3000))), { maxLength: 3 }),
      )
      .chain(([cl, inserts, edits, envs]) =>
        fc.tuple(...edits.map(([i]) => mutated(fc.constant(cl.argv[i % Math.max(1, cl.argv.length)] ?? ''), ARG_TOKENS))).map((replacements) => {
          const argv = [...cl.argv];
          for (const [k, [i]] of edits.entries()) if (argv.length > 0) argv[i % argv.length] = replacements[k] ?? '';
          for (const [i, arg] of inserts) argv.splice(i % (argv.length + 1), 0, arg);
          const env = { ...cl.env };
          for (const [k, v] of envs) env[k] = v;
          return { argv, env };
        }),
      );
    fc.assert(
      fc.property(damaged, fc.oneof(fc.constantFrom('6.1.0', '5.4.0-150-generic', '', 'weird'), fc.string({ maxLength: 10 })), ({ argv, env }, release) => {
        const r = onlyFlannelErrors(() => parseDaemonOptions(argv, env, release), [ConfigError]);
        if (!r.ok) {
          assert.equal(r.error.code, 'E_FLAG_INVALID');
          assert.ok(r.error.hint);
        }
      }),
      fuzzParams(),
    );
  });

  it('reads any kernel release without throwing', () => {
    fc.assert(
      fc.property(fc.oneof(fc.tuple(fc.nat({ max: 9 }), fc.nat({ max: 30 }), fc.string({ maxLength: 10 })).map(([a, b, rest]) => `${a}.${b}${rest}`), fc.string({ maxLength: 20 })), (rel) => {
        const lacks = kernelLacksVxlanChecksumFix(rel);
        const m = /^(\d+)\.(\d+)/.exec(rel);
        if (m) assert.equal(lacks, Number(m[1]) < 5 || (Number(m[1]) === 5 && Number(m[2]) < 7));
        else assert.equal(lacks, true);
      }),
      fuzzParams(),
    );
  });
});
