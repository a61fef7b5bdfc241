#!/usr/bin/env node
/** The `fedgate` command: composes the sub-commands in component/cli/. */
import { Command, CommanderError } from 'commander';
import { appCommands } from '../component/cli/app-commands.js';
import { statusCommand } from '../component/cli/status-command.js';
import { startCommand } from '../component/cli/start-command.js';
import { consumerCommands, deadLetterCommands, inboxCommands, outboxCommands } from '../component/cli/transfer-commands.js';
import { grantCommands } from '../component/cli/grant-commands.js';
import { storeCommands } from '../component/cli/store-commands.js';
import { backupCommand, restoreCommand } from '../component/cli/backup-commands.js';
import { consentCommands } from '../component/cli/consent-commands.js';
import { subjectCommands } from '../component/cli/subject-commands.js';
import { retentionCommands } from '../component/cli/retention-commands.js';
import { auditCommands } from '../component/cli/audit-commands.js';
import { gdprCommands } from '../component/cli/gdpr-commands.js';
import { CliError } from '../component/cli/context.js';
import { VERSION } from '../component/version.js';
import { DatabaseError, describeSqliteError, isSqliteError } from '../component/store/sqlite-errors.js';

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
