/**
 * flanneld: parse flags, build the daemon, run it until SIGTERM/SIGINT. The only process.exit.
 * Exit codes: 0 clean stop, 1 runtime/config failure, 2 bad command line.
 * Loaded by flanneld.ts once the V8 settings are in place.
 */
import { formatHelp, parseDaemonOptions, type DaemonOptions } from '../config/index.ts';
import { createLogger, levelForVerbosity } from '../log/index.ts';
import { composeDaemon } from '../daemon/compose.ts';
import { startDaemon } from '../daemon/index.ts';
import { reportError } from './report-error.ts';
import { VERSION } from './version.ts';

async function main(): Promise<number> {
  let options: DaemonOptions;
  try {
    options = parseDaemonOptions(process.argv.slice(2));
  } catch (err) {
    reportError('flanneld', err);
    return 2;
  }
  if (options.showHelp) {
    process.stdout.write(formatHelp('flanneld'));
    return 0;
  }
  if (options.showVersion) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const log = createLogger({ level: levelForVerbosity(options.verbosity), format: options.logFormat });
  log.info(`flanneld (flannel-ts) ${VERSION} starting`, { subnetManager: options.subnetManager, subnetFile: options.subnetFile });
  let handle;
  try {
    handle = startDaemon(await composeDaemon(options, log));
  } catch (err) {
    reportError('flanneld', err);
    return 1;
  }
  const onSignal = (sig: string) => (): void => {
    log.info(`received ${sig}, shutting down (the lease is kept for the next start)`);
    void handle.stop();
  };
  process.once('SIGTERM', onSignal('SIGTERM'));
  process.once('SIGINT', onSignal('SIGINT'));
  try {
    await handle.done;
    log.info('flanneld stopped');
    return 0;
  } catch (err) {
    log.error(`flanneld failed: ${err instanceof Error ? err.message : String(err)}`, (err as { hint?: string }).hint ? { hint: (err as { hint?: string }).hint } : undefined);
    reportError('flanneld', err);
    return 1;
  }
}

// Exit explicitly: datastore clients may hold sockets open after a clean stop.
process.exit(await main());
