/**
 * `fedgate retention set|list|remove|purge`: how long each app keeps its series (ISO 8601 periods after
 * each record's time), carried with the data it sends; the purge deletes what is past it.
 */
import { Command } from 'commander';
import { RetentionError } from '../gdpr/retention.js';
import { RetentionPolicies } from '../gdpr/retention-policies.js';
import { describePurge, purge } from '../gdpr/purge.js';
import { recordPurgeAt } from '../gdpr/purge-clock.js';
import { createLogger } from '../log/logger.js';
import { contextOf, formatTable, intArg, operation, printJsonOrTable, printListOrTable, when } from './context.js';

const wrap = <T>(fn: () => T): T => operation(fn, RetentionError);

export function retentionCommands(): Command {
  const cmd = new Command('retention').description('how long each app keeps its records (GDPR): policies and the purge');
  cmd
    .command('set <app> <series> <period>')
    .description('keep the records of SERIES (an identifier or a glob) of APP for PERIOD after their own time (ISO 8601: P3Y, P18M, P30D); replaces the period of that glob')
    .action(function (this: Command, app: string, series: string, period: string) {
      const p = wrap(() => new RetentionPolicies(contextOf(this).db).set(app, series, period));
      process.stdout.write(`retention ${p.id}: ${p.app} keeps ${p.series} for ${p.period} (carried with the data it sends)\n`);
    });
  cmd
    .command('list [app]')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, app: string | undefined, o: { json?: boolean }) {
      const list = new RetentionPolicies(contextOf(this).db).list(app);
      printListOrTable(!!o.json, list, () =>
        list.length === 0
          ? 'no retention policies: records are kept until erased\n'
          : formatTable([['ID', 'APP', 'SERIES', 'PERIOD', 'SINCE'], ...list.map((p) => [String(p.id), p.app, p.series, p.period, when(p.updatedAt)])]),
      );
    });
  cmd
    .command('remove <id>')
    .alias('rm')
    .action(function (this: Command, id: string) {
      wrap(() => new RetentionPolicies(contextOf(this).db).remove(intArg(id)));
      process.stdout.write(`removed retention policy ${id}\n`);
    });
  cmd
    .command('purge')
    .description('delete now what is past its retention (the gateway also does it every hour), in short batches; accepts the wall clock as it is after the hourly purge held on a clock that moved on by more than a day')
    .option('--dry-run', 'only count what would be deleted')
    .option('--json', 'machine-readable output')
    .action(async function (this: Command, o: { dryRun?: boolean; json?: boolean }) {
      const c = contextOf(this);
      const now = Date.now();
      // An operator's purge vouches for the clock: the hourly ones go by it again (gdpr/purge-clock.ts).
      if (!o.dryRun) recordPurgeAt(c.db, now);
      const report = await purge({ db: c.db, databasePath: c.config.database.path, domain: c.config.link.domain, log: createLogger({ level: 'warn', format: 'json' }), dryRun: !!o.dryRun, now });
      printJsonOrTable(!!o.json, report, () => `${describePurge(report)}\n`);
    });
  return cmd;
}
