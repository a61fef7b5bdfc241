/** `fedgate start`: run the gateway in the foreground until SIGTERM/SIGINT (exit 0) or a fatal link error (exit 3). */
import { Command } from 'commander';
import { loadConfig, defaultConfigPath, ConfigError } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { CliError } from './context.js';
import { KeyFileError } from '../trace/keys.js';

export function startCommand(): Command {
  return new Command('start')
    .description('connect to the XMPP server and serve the applications (foreground)')
    .action(async function (this: Command) {
      const { config: path } = this.optsWithGlobals<{ config?: string }>();
      let config;
      try {
        config = loadConfig(path ?? defaultConfigPath());
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message, 2);
        throw err;
      }
      const log = createLogger({ level: config.log.level, format: config.log.format });
      // Imported here so that the other commands do not load the gateway (workers, XMPP) at all.
      const { startGateway } = await import('../main.js');
      let gw;
      try {
        gw = await startGateway(config, log);
      } catch (err) {
        if (err instanceof KeyFileError) throw new CliError(err.message, 2);
        throw err;
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'stopping');
          void gw.stop().then(resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
        gw.once('fatal', (err) => {
          log.fatal({ condition: err.condition }, err.message);
          process.stderr.write(`fedgate: cannot connect to ${config.link.host}:${config.link.port} as ${config.link.domain}: ${err.message}\n`);
          process.exitCode = 3;
          void gw.stop().then(resolve);
        });
      });
    });
}
