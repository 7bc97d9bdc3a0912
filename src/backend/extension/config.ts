/**
 * @module backend/extension/config
 * The extension keys of the Backend section, upstream's four commands. Each is a shell command
 * line (run with `sh -c`); an empty or missing one is skipped, as upstream does.
 */
import { z } from 'zod';
import { parseBackendKeys, rule } from '../backend-config.ts';

export interface ExtensionConfig {
  /** Runs before the lease is acquired; its stdout (trimmed) becomes the lease's BackendData string. */
  readonly preStartupCommand: string;
  /** Runs once the lease is held (env NETWORK, SUBNET, IPV6SUBNET, PUBLIC_IP, PUBLIC_IPV6). */
  readonly postStartupCommand: string;
  /** Runs for each peer that appears or changes (env SUBNET, PUBLIC_IP...; stdin: its BackendData). */
  readonly subnetAddCommand: string;
  /** Runs for each peer that goes away (same environment and stdin as SubnetAddCommand). */
  readonly subnetRemoveCommand: string;
}

const command = rule(z.string(), 'a string: a shell command line, run with sh -c');

const RULES = {
  PreStartupCommand: command,
  PostStartupCommand: command,
  SubnetAddCommand: command,
  SubnetRemoveCommand: command,
};

export type CommandName = keyof typeof RULES;

export function parseExtensionConfig(raw: Readonly<Record<string, unknown>>): { config: ExtensionConfig; warnings: string[] } {
  const { values: v, warnings } = parseBackendKeys(raw, 'extension', RULES);
  // Only blanks is no command (upstream would run `sh -c '  '`, which does nothing).
  const cmd = (s: string | undefined): string => (s === undefined || s.trim() === '' ? '' : s);
  const config: ExtensionConfig = {
    preStartupCommand: cmd(v.PreStartupCommand),
    postStartupCommand: cmd(v.PostStartupCommand),
    subnetAddCommand: cmd(v.SubnetAddCommand),
    subnetRemoveCommand: cmd(v.SubnetRemoveCommand),
  };
  if (config.subnetAddCommand === '') warnings.push('Backend.SubnetAddCommand is not set: nothing will make peers reachable (the extension backend programs only what its commands do)');
  return { config, warnings };
}
