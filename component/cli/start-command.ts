/**
 * `fedgate start`: run the gateway in the foreground. How it ends is told by its exit code (the
 * systemd unit restarts on failure, but not on 2 and 3, which need an admin):
 *
 *   0   stopped by SIGTERM or SIGINT, also when the signal came during start-up
 *   2   configuration or set-up error: the configuration file, the database file (unreadable,
 *       read-only, damaged, in use by another gateway's process, or removed or replaced while the
 *       gateway ran), `metrics.listen` already in use — the message names what to fix
 *   3   fatal link error: the server refused the handshake (wrong secret, unknown domain, …)
 *   70  an unexpected internal error (an uncaught exception or unhandled rejection): logged with its
 *       stack, then the gateway stopped cleanly (EX_SOFTWARE)
 */
import { adoptEarlySignals } from './early-signals.js';
import { Command } from 'commander';
import { loadConfig, defaultConfigPath, ConfigError } from '../config/load.js';
import { createLogger, type Logger } from '../log/logger.js';
import { DatabaseError } from '../store/sqlite-errors.js';
import { MetricsListenError } from '../observe/observe-service.js';
import { formatHostPort, type Config } from '../config/schema.js';
import type { Gateway } from '../main.js';
import { CliError } from './context.js';
import { KeyFileError } from '../trace/keys.js';
import { AlreadyRunningError } from '../runtime-status.js';

export const EXIT_INTERNAL_ERROR = 70;
/** How long a stop after an internal error may take before the process exits anyway. */
const EMERGENCY_STOP_MS = 10_000;

/**
 * The process-level policy for the unexpected: an uncaught exception or an unhandled rejection is a
 * bug. It is logged with its stack, the gateway stops as cleanly as it can (goodbye presence, stream
 * closed, workers stopped) and the process exits with EXIT_INTERNAL_ERROR.
 */
function installFailurePolicy(log: Logger, gateway: () => Gateway | null): void {
  let failing = false;
  const fail = (what: string, err: unknown) => {
    if (failing) return;
    failing = true;
    const e = err instanceof Error ? err : new Error(String(err));
    log.fatal({ err: e.stack ?? e.message }, `${what}: stopping`);
    process.stderr.write(`fedgate: internal error (${what}: ${e.message}); the gateway stops (exit ${EXIT_INTERNAL_ERROR})\n`);
    process.exitCode = EXIT_INTERNAL_ERROR;
    setTimeout(() => process.exit(EXIT_INTERNAL_ERROR), EMERGENCY_STOP_MS).unref();
    const gw = gateway();
    void (gw ? gw.stop() : Promise.resolve())
      .catch((stopErr: unknown) => log.error({ err: (stopErr as Error).message }, 'stop after the internal error failed'))
      .finally(() => process.exit(EXIT_INTERNAL_ERROR));
  };
  process.on('uncaughtException', (err) => fail('uncaught exception', err));
  process.on('unhandledRejection', (reason) => fail('unhandled promise rejection', reason));
}

function servers(config: Config): string {
  return config.servers.map(formatHostPort).join(', ');
}

export function startCommand(): Command {
  return new Command('start')
    .description('connect to the XMPP server and serve the applications (foreground)')
    .action(async function (this: Command) {
      // Signals first: a SIGTERM during start-up (systemd stopping a unit that is starting) must end
      // in a clean stop and exit 0 too, not in the default action (exit 143).
      let signalled: NodeJS.Signals | null = null;
      let onSignal: ((signal: NodeJS.Signals) => void) | null = null;
      const handler = (signal: NodeJS.Signals) => {
        if (signalled) return;
        signalled = signal;
        onSignal?.(signal);
      };
      process.on('SIGTERM', handler);
      process.on('SIGINT', handler);
      adoptEarlySignals(handler);

      const { config: path } = this.optsWithGlobals<{ config?: string }>();
      let config: Config;
      try {
        config = loadConfig(path ?? defaultConfigPath());
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      }
      const log = createLogger({ level: config.log.level, format: config.log.format });
      let gw: Gateway | null = null;
      installFailurePolicy(log, () => gw);
      log.info({ domain: config.link.domain, servers: servers(config) }, 'starting');
      for (const w of config.warnings) log.warn(w);

      // Imported here so that the other commands do not load the gateway (workers, XMPP) at all.
      const { startGateway } = await import('../main.js');
      try {
        gw = await startGateway(config, log);
      } catch (err) {
        if (err instanceof DatabaseError || err instanceof MetricsListenError || err instanceof KeyFileError || err instanceof AlreadyRunningError) throw new CliError(err.message, 2);
        throw err;
      }
      const running = gw;
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'stopping');
          void running.stop().then(resolve);
        };
        if (signalled) return stop(signalled);
        onSignal = stop;
        running.once('database-lost', (file) => {
          // Nothing more may be acknowledged into a file no one can open again: senders keep it meanwhile.
          const message = `${file} was removed or replaced while the gateway ran: stopping; restore it (fedgate restore) or start on a new database`;
          log.fatal({ file }, message);
          process.stderr.write(`fedgate: ${message}\n`);
          process.exitCode = 2;
          void running.stop().then(resolve);
        });
        running.once('fatal', (err) => {
          log.fatal({ condition: err.condition, server: err.server }, err.message);
          process.stderr.write(`fedgate: cannot connect to ${err.server} as ${config.link.domain}: ${err.message}\n`);
          process.exitCode = 3;
          void running.stop().then(resolve);
        });
      });
      // Stopped: nothing should keep the process now. If something still does (a socket the kernel holds
      // open), it must not hang a service manager's stop until its time-out and SIGKILL.
      setTimeout(() => {
        log.warn('stopped, but something still held the process: exiting');
        process.exit(process.exitCode ?? 0);
      }, 3000).unref();
    });
}
