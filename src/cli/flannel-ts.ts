#!/usr/bin/env node
/**
 * flannel-ts: the operator CLI. Subcommands are small modules registered in COMMANDS.
 */
import { readFile } from 'node:fs/promises';
import { parseNetworkConfig } from '../config/index.ts';
import { ConfigError } from '../errors/index.ts';
import { createBackends } from '../daemon/compose.ts';
import { LabUsageError, runLab } from '../lab/lab-command.ts';
import { reportError } from './report-error.ts';
import { VERSION } from './version.ts';

interface Command {
  readonly usage: string;
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

const configCheck: Command = {
  usage: 'config check <net-conf.json>',
  summary: 'validate a network configuration the way flanneld reads it, and print the effective values',
  async run(args) {
    const path = args[0];
    if (!path || args.length > 1) {
      console.error('usage: flannel-ts config check <net-conf.json>');
      return 2;
    }
    const config = parseNetworkConfig(await readFile(path, 'utf8'), { source: path });
    // The same checks flanneld makes at start, Backend section included.
    let backendWarnings: readonly string[];
    try {
      backendWarnings = createBackends().get(config.backend.type).checkConfig(config).warnings;
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(err.code, `${path}: ${err.message}`, { ...(err.hint ? { hint: err.hint } : {}) });
      throw err;
    }
    for (const w of [...config.warnings, ...backendWarnings]) console.log(`warning: ${w}`);
    for (const [name, pool] of [['IPv4', config.v4], ['IPv6', config.v6]] as const) {
      if (!pool) continue;
      const count = ((pool.subnetMax.ip.value - pool.subnetMin.ip.value) >> BigInt(pool.network.ip.bits - pool.subnetLen)) + 1n;
      console.log(`${name}: network ${pool.network}, /${pool.subnetLen} per node, subnets ${pool.subnetMin} .. ${pool.subnetMax} (${count} nodes)`);
    }
    console.log(`backend: ${config.backend.type}; traffic rules: ${config.enableNFTables ? 'nftables' : 'iptables'}`);
    console.log(`${path}: OK`);
    return 0;
  },
};

const lab: Command = {
  usage: 'lab [--name NAME] <up|check|status|exec|path|doctor|break|heal|node|pod|ui|down> [options]',
  summary: 'a flannel cluster in network namespaces on this machine (lab --help for the options)',
  async run(args) {
    try {
      return await runLab(args, { out: (l) => console.log(l), progress: (l) => console.error(l) });
    } catch (err) {
      if (!(err instanceof LabUsageError)) throw err;
      reportError('flannel-ts', err);
      return 2;
    }
  },
};

const doctor: Command = {
  usage: 'doctor [--json] [--connectivity] [--list] [flanneld flags...]',
  summary: "check this node's flannel setup (read-only): flanneld, subnet.env, datastore, kernel, firewall, CNI (doctor --help)",
  async run(args) {
    const { runDoctor } = await import('../doctor/doctor-command.ts');
    return await runDoctor(args, { out: (text) => process.stdout.write(text), err: (line) => console.error(line) });
  },
};

const COMMANDS: Record<string, Command> = { 'config check': configCheck, lab, doctor };

function help(): string {
  const rows = Object.values(COMMANDS).map((c) => `  flannel-ts ${c.usage}\n      ${c.summary}`);
  return ['Usage: flannel-ts <command> [args]', '', ...rows, '  flannel-ts version', ''].join('\n');
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(help());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === 'version' || argv[0] === '--version') {
    console.log(VERSION);
    return 0;
  }
  for (const [name, cmd] of Object.entries(COMMANDS)) {
    const words = name.split(' ');
    if (words.every((w, i) => argv[i] === w)) {
      try {
        return await cmd.run(argv.slice(words.length));
      } catch (err) {
        reportError('flannel-ts', err);
        return 1;
      }
    }
  }
  console.error(`flannel-ts: unknown command "${argv.join(' ')}"\n`);
  process.stderr.write(help());
  return 2;
}

process.exit(await main(process.argv.slice(2)));
