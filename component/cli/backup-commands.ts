/** `fedgate backup FILE` and `fedgate restore FILE`: copies of the gateway's SQLite files (component/backup/). */
import { Command } from 'commander';
import { BackupError, backupDatabases, restoreDatabases } from '../backup/backup.js';
import { gatewayProcessAlive, isAlive, readRuntimeStatus } from '../runtime-status.js';
import { configOf, contextOf, CliError, formatTable, printJsonOrTable } from './context.js';
import { unfinishedRestore } from '../store/database.js';

function mb(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

export function backupCommand(): Command {
  return new Command('backup')
    .description(
      "copy fedgate's database and its companion files (the store's…) to FILE and FILE-<name>, consistent, while the gateway runs or not. " +
        'FILE names the copy of the main file: backup.sqlite → backup.sqlite, backup-store.sqlite',
    )
    .argument('<file>', 'where to write the copy of the main database file')
    .option('--force', 'replace existing copies')
    .option('--json', 'machine-readable output')
    .action(async function (this: Command, file: string, o: { force?: boolean; json?: boolean }) {
      const ctx = contextOf(this);
      ctx.db.close();
      let copied;
      try {
        copied = await backupDatabases(ctx.config.database.path, file, { force: o.force ?? false });
      } catch (err) {
        if (err instanceof BackupError) throw new CliError(err.message, 1);
        throw err;
      }
      printJsonOrTable(!!o.json, { files: copied }, () =>
        formatTable([['FILE', 'COPY', 'SIZE'], ...copied.map((c) => [c.source, c.copy, mb(c.bytes)])]) + `backed up ${copied.length} file(s); checked\n`,
      );
    });
}

export function restoreCommand(): Command {
  return new Command('restore')
    .description(
      'replace the database files of a STOPPED gateway by a backup (FILE and its companions). The files replaced are kept ' +
        '(*.before-restore-<time>); the restored gateway sends under new ids, so receivers do not mistake its messages for ones they have',
    )
    .argument('<file>', 'the copy of the main database file made by fedgate backup')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, file: string, o: { json?: boolean }) {
      const config = configOf(this);
      // A restore cut short is finished by running it again: nothing opens the files meanwhile (nor
      // could the gateway have started on them), so there is no runtime status to read.
      if (unfinishedRestore(config.database.path) === null) {
        const ctx = contextOf(this);
        const rt = readRuntimeStatus(ctx.db);
        ctx.db.close();
        if (rt && (isAlive(rt) || gatewayProcessAlive(rt))) throw new CliError(`the gateway is running (pid ${rt.pid}${isAlive(rt) ? '' : ', its heartbeat stale: hung, stopped or unable to write'}): stop it first (systemctl stop fedgate)`, 1);
      }
      let restored;
      try {
        restored = restoreDatabases(file, config.database.path);
      } catch (err) {
        if (err instanceof BackupError) throw new CliError(err.message, 1);
        throw err;
      }
      printJsonOrTable(!!o.json, { files: restored }, () =>
        formatTable([['FILE', 'FROM', 'PREVIOUS FILE KEPT AS'], ...restored.map((r) => [r.to, r.from || '(none in the backup)', r.keptAs ?? '-'])]) +
          'restored; start the gateway (systemctl start fedgate)\n',
      );
    });
}
