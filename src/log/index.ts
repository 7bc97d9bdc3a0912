/**
 * @module log
 * The logger is injected, never imported as a global: components receive a Logger and derive
 * `forComponent('backend:vxlan')` children. pino writes JSON lines (or plain text when asked).
 */
import { writeSync } from 'node:fs';
import { pino, type Logger as PinoLogger } from 'pino';

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  trace(msg: string, fields?: LogFields): void;
  forComponent(name: string): Logger;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level?: LogLevel;
  /** Write to this file descriptor (default 2, stderr: stdout may be a protocol channel). */
  fd?: number;
  /** Prefix every line with this name (tells processes apart in tests and the lab). */
  name?: string;
  /** json (default): one JSON object per line; text: "time LEVEL [component] msg key=value". */
  format?: 'json' | 'text';
}

/** Maps upstream's klog verbosity (-v N) onto our levels. */
export function levelForVerbosity(v: number): LogLevel {
  if (v >= 4) return 'trace';
  if (v >= 1) return 'debug';
  return 'info';
}

function wrap(p: PinoLogger): Logger {
  const call = (lvl: Level) => (msg: string, fields?: LogFields) => {
    if (fields) p[lvl](fields, msg);
    else p[lvl](msg);
  };
  return loggerOf(call, (name) => wrap(p.child({ component: name })));
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** A Logger from one function per level. */
function loggerOf(at: (level: Level) => (msg: string, fields?: LogFields) => void, forComponent: (name: string) => Logger): Logger {
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), trace: at('trace'), forComponent };
}

function createTextLogger(options: LoggerOptions, component?: string): Logger {
  const min = options.level === 'silent' ? LEVELS.length : LEVELS.indexOf(options.level ?? 'info');
  const fd = options.fd ?? 2;
  const at = (level: Level) => (msg: string, fields?: LogFields) => {
    if (LEVELS.indexOf(level) < min) return;
    const kv = fields ? Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('') : '';
    const who = [options.name, component].filter(Boolean).join(' ');
    writeSync(fd, `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${who ? `[${who}] ` : ''}${msg}${kv}\n`);
  };
  return loggerOf(at, (name) => createTextLogger(options, name));
}

export function createLogger(options: LoggerOptions = {}): Logger {
  if (options.format === 'text') return createTextLogger(options);
  const dest = pino.destination({ fd: options.fd ?? 2, sync: true });
  const base = options.name ? { node: options.name } : {};
  return wrap(pino({ level: options.level ?? 'info', base, timestamp: pino.stdTimeFunctions.isoTime }, dest));
}

/** A logger that keeps lines in memory: for tests that assert on what was logged. */
export interface MemoryLogger extends Logger {
  readonly lines: ReadonlyArray<{ level: string; msg: string; fields?: LogFields; component?: string }>;
}

export function createMemoryLogger(): MemoryLogger {
  const lines: Array<{ level: string; msg: string; fields?: LogFields; component?: string }> = [];
  const make = (component?: string): Logger => {
    const at = (level: string) => (msg: string, fields?: LogFields) => {
      lines.push({ level, msg, ...(fields ? { fields } : {}), ...(component ? { component } : {}) });
    };
    return loggerOf(at, (name) => make(name));
  };
  return Object.assign(make(), { lines });
}

const noop = (): void => {};
export const silentLogger: Logger = {
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
  trace: noop,
  forComponent: () => silentLogger,
};
