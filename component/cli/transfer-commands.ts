/**
 * `fedgate consumer …`, `fedgate outbox …`, `fedgate inbox …`, `fedgate dead-letter …`: the durable
 * transfer from the shell. Every command works on the database alone, whether the gateway runs or not.
 */
import { Command } from 'commander';
import { ConsumerError, ConsumerStore } from '../transfer/consumers.js';
import { Outbox } from '../delivery/outbox.js';
import { Inbox } from '../transfer/inbox.js';
import { LanesTable } from '../delivery/lanes-table.js';
import { DeadLetterError, DeadLetters } from '../transfer/dead-letters.js';
import { CliError, contextOf, formatTable, intArg, operation, printListOrTable, when, type CliContext } from './context.js';

const guard = <T>(fn: () => T): T => operation(fn, ConsumerError, DeadLetterError);

/** A local app name becomes its JID on our domain; anything with an @ is taken as a JID. */
function jidOf(c: CliContext, s: string): string {
  return s.includes('@') ? s : `${s}@${c.config.link.domain}`;
}

export function consumerCommands(): Command {
  const cmd = new Command('consumer').description('who gets what: flows of records from a source to a destination');
  cmd
    .command('add')
    .description('add a consumer. Source local: the extract job sends it. Destination local: the source is entitled to send it.')
    .requiredOption('-s, --source <jid>', 'source app (a local app name, or a JID)')
    .requiredOption('-d, --destination <jid>', 'destination (a local app name, or a JID)')
    .option('--series <pattern>', 'series identifier or glob (* and ?)', '*')
    .option('--schedule <when>', 'on-change | every 30s | every 5m | a cron expression (UTC) | none', 'on-change')
    .option('--batch <n>', 'records per message (1-1000)', '1000')
    .action(function (this: Command, o: { source: string; destination: string; series: string; schedule: string; batch: string }) {
      const c = contextOf(this);
      const added = guard(() =>
        new ConsumerStore(c.db).add({ source: jidOf(c, o.source), destination: jidOf(c, o.destination), series: o.series, schedule: o.schedule, batch: intArg(o.batch, 'batch') }),
      );
      process.stdout.write(`added consumer ${added.id}: ${added.series} from ${added.source} to ${added.destination} (${added.schedule})\n`);
    });
  cmd
    .command('list')
    .description('list consumers (flows and subscriptions)')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { json?: boolean }) {
      const list = new ConsumerStore(contextOf(this).db).list();
      printListOrTable(!!o.json, list, () =>
        list.length === 0
          ? 'no consumers\n'
          : formatTable([
              ['ID', 'KIND', 'SOURCE', 'SERIES', 'DESTINATION', 'SCHEDULE', 'LAST RUN', 'LAST ERROR'],
              ...list.map((x) => [String(x.id), x.kind, x.source, x.series, x.destination, x.schedule, when(x.lastRunAt), x.lastError ?? '']),
            ]),
      );
    });
  cmd
    .command('remove <id>')
    .alias('rm')
    .description('remove a consumer; messages queued for it are not sent (they move to the dead letters)')
    .action(function (this: Command, id: string) {
      guard(() => new ConsumerStore(contextOf(this).db).remove(intArg(id)));
      process.stdout.write(`removed consumer ${id}\n`);
    });
  return cmd;
}

export function outboxCommands(): Command {
  const cmd = new Command('outbox').description('messages waiting to leave');
  cmd
    .command('list')
    .option('--destination <jid>', 'only this destination')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { destination?: string; limit: string; json?: boolean }) {
      const box = new Outbox(contextOf(this).db);
      const rows = box.list({ ...(o.destination ? { destination: o.destination } : {}), limit: intArg(o.limit, 'limit') });
      const total = box.count();
      printListOrTable(
        !!o.json,
        rows.map(({ payload: _p, ...r }) => r),
        () =>
          `${total} message(s) in the outbox\n` +
          (rows.length
            ? formatTable([
                ['ID', 'FROM', 'TO', 'RECORDS', 'ATTEMPTS', 'LAST ERROR'],
                ...rows.map((r) => [String(r.id), r.sender, r.destination, String(r.records), String(r.attempts), r.lastError ?? '']),
              ])
            : ''),
        total,
      );
    });
  cmd
    .command('lanes')
    .description('one line per destination: how it confirms delivery, whether and why its lane waits')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { json?: boolean }) {
      const db = contextOf(this).db;
      const queued = new Map(
        (db.prepare('SELECT destination, count(*) AS n FROM outbox GROUP BY destination').all() as Array<{ destination: string; n: number }>).map((r) => [r.destination, r.n]),
      );
      const lanes = new LanesTable(db).all().map((l) => ({ ...l, queued: queued.get(l.destination) ?? 0 }));
      printListOrTable(!!o.json, lanes, () =>
        lanes.length === 0
          ? 'no lanes\n'
          : formatTable([
              ['DESTINATION', 'QUEUED', 'MODE', 'CONFIRMED', 'HELD UNTIL', 'ATTEMPTS', 'LAST ERROR'],
              ...lanes.map((l) => [l.destination, String(l.queued), l.mode, l.confirmed ? 'yes' : 'no', l.heldUntil > Date.now() ? when(l.heldUntil) : '', String(l.attempts), l.lastError ?? '']),
            ]),
      );
    });
  cmd
    .command('retry [id]')
    .description('send now what waits for a retry delay: the lane of one message, of one destination, or every lane (a running gateway acts within a second)')
    .option('--destination <jid>', 'only this destination')
    .action(function (this: Command, id: string | undefined, o: { destination?: string }) {
      const c = contextOf(this);
      let destination = o.destination;
      if (id) {
        const row = new Outbox(c.db).get(intArg(id));
        if (!row) throw new CliError(`no outbox message with id ${id}`, 1);
        destination = row.destination;
      }
      const n = new LanesTable(c.db).requestRetry(destination);
      process.stdout.write(`${n} lane(s) to send now\n`);
    });
  cmd
    .command('drop <id>')
    .description('give up on one message: it moves to the dead letters (nothing is deleted silently)')
    .option('--reason <text>', 'why', 'dropped by an operator')
    .action(function (this: Command, id: string, o: { reason: string }) {
      const box = new Outbox(contextOf(this).db);
      if (!box.get(intArg(id))) throw new CliError(`no outbox message with id ${id}`, 1);
      box.kill(intArg(id), o.reason);
      process.stdout.write(`message ${id} moved to the dead letters\n`);
    });
  return cmd;
}

export function inboxCommands(): Command {
  const cmd = new Command('inbox').description('messages received for our apps');
  cmd
    .command('list')
    .option('--app <name>', 'only this app')
    .option('--state <state>', 'pending | done | dead', 'pending')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { app?: string; state: string; limit: string; json?: boolean }) {
      if (!['pending', 'done', 'dead'].includes(o.state)) throw new CliError('--state must be pending, done or dead', 2);
      const db = contextOf(this).db;
      const rows = new Inbox(db).list({ ...(o.app ? { app: o.app } : {}), state: o.state as 'pending', limit: intArg(o.limit, 'limit') });
      const total = (o.app
        ? db.prepare('SELECT count(*) FROM inbox WHERE state = ? AND app = ?').pluck().get(o.state, o.app)
        : db.prepare('SELECT count(*) FROM inbox WHERE state = ?').pluck().get(o.state)) as number;
      printListOrTable(
        !!o.json,
        rows.map(({ payload: _p, ...r }) => r),
        () =>
          rows.length
            ? formatTable([
                ['ID', 'APP', 'FROM', 'STANZA ID', 'RECORDS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'],
                ...rows.map((r) => [String(r.id), r.app, r.sender, r.stanzaId, String(r.records), String(r.attempts), when(r.nextAttemptAt), r.lastError ?? '']),
              ])
            : `no ${o.state} messages\n`,
        total,
      );
    });
  cmd
    .command('retry [id]')
    .description('apply now the rows held by a retry delay (one row, one app, or all)')
    .option('--app <name>', 'only this app')
    .action(function (this: Command, id: string | undefined, o: { app?: string }) {
      const n = new Inbox(contextOf(this).db).retryNow(id ? { id: intArg(id) } : o.app ? { app: o.app } : {});
      process.stdout.write(`${n} message(s) due now\n`);
    });
  cmd
    .command('drop <id>')
    .description('give up on one pending message: it moves to the dead letters')
    .option('--reason <text>', 'why', 'dropped by an operator')
    .action(function (this: Command, id: string, o: { reason: string }) {
      const inbox = new Inbox(contextOf(this).db);
      if (inbox.get(intArg(id))?.state !== 'pending') throw new CliError(`no pending inbox message with id ${id}`, 1);
      inbox.kill(intArg(id), o.reason);
      process.stdout.write(`message ${id} moved to the dead letters\n`);
    });
  return cmd;
}

export function deadLetterCommands(): Command {
  const cmd = new Command('dead-letter').description('messages that could not be delivered or applied, with the reason');
  cmd
    .command('list')
    .option('--direction <d>', 'outbound | inbound')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { direction?: string; limit: string; json?: boolean }) {
      if (o.direction && o.direction !== 'outbound' && o.direction !== 'inbound') throw new CliError('--direction must be outbound or inbound', 2);
      const db = contextOf(this).db;
      const rows = new DeadLetters(db).list({ ...(o.direction ? { direction: o.direction as 'outbound' } : {}), limit: intArg(o.limit, 'limit') });
      const total = (o.direction
        ? db.prepare('SELECT count(*) FROM dead_letters WHERE direction = ?').pluck().get(o.direction)
        : db.prepare('SELECT count(*) FROM dead_letters').pluck().get()) as number;
      printListOrTable(
        !!o.json,
        rows,
        () =>
          rows.length
            ? formatTable([
                ['ID', 'DIRECTION', 'APP', 'PEER', 'RECORDS', 'ATTEMPTS', 'DIED', 'REASON'],
                ...rows.map((r) => [String(r.id), r.direction, r.app, r.peer, String(r.records), String(r.attempts), when(r.diedAt), r.reason]),
              ])
            : 'no dead letters\n',
        total,
      );
    });
  cmd
    .command('retry [id]')
    .description('put dead letters back in their queue as the same messages (outbox or inbox), attempts reset: one, or all matching the options')
    .option('--all', 'every dead letter (narrowed by the options below)')
    .option('--app <name>', 'only those of this app')
    .option('--peer <jid>', 'only those to or from this JID')
    .option('--direction <d>', 'outbound | inbound')
    .action(function (this: Command, id: string | undefined, o: { all?: boolean; app?: string; peer?: string; direction?: string }) {
      const c = contextOf(this);
      if (o.direction && o.direction !== 'outbound' && o.direction !== 'inbound') throw new CliError('--direction must be outbound or inbound', 2);
      const filtered = o.all || o.app || o.peer || o.direction;
      if (id === undefined && !filtered) throw new CliError('give a dead letter id, or --all (narrowed by --app, --peer, --direction)', 2);
      if (id !== undefined && filtered) throw new CliError('give either an id or --all/--app/--peer/--direction, not both', 2);
      const letters = new DeadLetters(c.db);
      const ids =
        id !== undefined
          ? [intArg(id)]
          : letters.ids({
              ...(o.direction ? { direction: o.direction as 'outbound' } : {}),
              ...(o.app ? { app: o.app, appJid: jidOf(c, o.app) } : {}),
              ...(o.peer ? { peer: o.peer } : {}),
            });
      for (const d of ids) {
        const queued = guard(() => letters.retry(d));
        process.stdout.write(`dead letter ${d} queued again as ${queued}\n`);
      }
      if (id === undefined) process.stdout.write(`${ids.length} dead letter(s) queued again\n`);
    });
  cmd
    .command('drop <id>')
    .description('delete a dead letter for good')
    .action(function (this: Command, id: string) {
      guard(() => new DeadLetters(contextOf(this).db).drop(intArg(id)));
      process.stdout.write(`dead letter ${id} deleted\n`);
    });
  return cmd;
}
