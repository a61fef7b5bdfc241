/** The `fedgate` command: composes the sub-commands of this folder (loaded by scripts/fedgate.ts). */
import { Command, CommanderError } from 'commander';
import { appCommands } from './app-commands.js';
import { statusCommand } from './status-command.js';
import { startCommand } from './start-command.js';
import { consumerCommands, deadLetterCommands, inboxCommands, outboxCommands } from './transfer-commands.js';
import { grantCommands } from './grant-commands.js';
import { storeCommands } from './store-commands.js';
import { backupCommand, restoreCommand } from './backup-commands.js';
import { consentCommands } from './consent-commands.js';
import { subjectCommands } from './subject-commands.js';
import { retentionCommands } from './retention-commands.js';
import { auditCommands } from './audit-commands.js';
import { gdprCommands } from './gdpr-commands.js';
import { CliError } from './context.js';
import { VERSION } from '../version.js';
import { releaseEarlySignals } from './early-signals.js';
import { DatabaseError, describeSqliteError, isSqliteError } from '../store/sqlite-errors.js';

const program = new Command('fedgate')
  .description('XMPP component gateway for energy-data federations (Quoalise)')
  .version(VERSION)
  .option('-c, --config <path>', 'configuration file (default: $FEDGATE_CONFIG or ./fedgate.yml)')
  .showHelpAfterError()
  .exitOverride()
  .addCommand(startCommand())
  .addCommand(appCommands())
  .addCommand(statusCommand())
  .addCommand(consumerCommands())
  .addCommand(outboxCommands())
  .addCommand(inboxCommands())
  .addCommand(deadLetterCommands())
  .addCommand(grantCommands())
  .addCommand(consentCommands())
  .addCommand(subjectCommands())
  .addCommand(storeCommands())
  .addCommand(retentionCommands())
  .addCommand(gdprCommands())
  .addCommand(backupCommand())
  .addCommand(restoreCommand())
  .addCommand(auditCommands());

// Every command but `start` lets a signal act as usual from here on (early-signals.ts).
program.hook('preAction', (_program, command) => {
  if (command.name() !== 'start') releaseEarlySignals();
});

// Usage errors anywhere in the tree throw instead of exiting, so they all get exit code 2.
(function overrideAll(cmd: Command) {
  for (const c of cmd.commands) overrideAll(c.exitOverride());
})(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Usage errors are already printed by commander; --help and --version exit 0.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof CliError) {
    process.stderr.write(`fedgate: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else if (err instanceof DatabaseError) {
    process.stderr.write(`fedgate: ${err.message}\n`);
    process.exitCode = 2;
  } else if (isSqliteError(err)) {
    // Never a SqliteError stack trace: what failed, in one line, and the operation is over (exit 1).
    process.stderr.write(`fedgate: ${describeSqliteError(err)}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`fedgate: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  }
}
