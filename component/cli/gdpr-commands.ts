/**
 * `fedgate gdpr export|erase|erasures|register`: a person's rights and the record of processing
 * (component/gdpr/, docs/gdpr.md). They work on the database whether the gateway runs or not; erasure
 * requests queued here leave through the running gateway's outbox.
 */
import { Command } from 'commander';
import { Parties } from '../consent/parties.js';
import type { Subject } from '../consent/parties.js';
import { createLogger } from '../log/logger.js';
import { exportSubject, ExportError } from '../gdpr/export.js';
import { erase, ErasureError } from '../gdpr/erase.js';
import { ErasureStore } from '../gdpr/erasure-store.js';
import { buildRegister, formatRegister } from '../gdpr/register.js';
import { CliError, contextOf, formatTable, operator, printJsonOrTable, printListOrTable, when, type CliContext } from './context.js';

function subjectOf(c: CliContext, name: string): Subject {
  const s = new Parties(c.db).subject(name);
  if (!s) throw new CliError(`no data subject named "${name}" (fedgate subject list)`, 1);
  return s;
}

/** An async operation whose expected failures (`expected`) become a one-line message and exit code 1. */
async function expect<T>(p: () => Promise<T>, expected: abstract new (...a: never[]) => Error): Promise<T> {
  try {
    return await p();
  } catch (err) {
    if (err instanceof expected) throw new CliError(err.message, 1);
    throw err;
  }
}

const storage = (c: CliContext) => ({ db: c.db, databasePath: c.config.database.path, domain: c.config.link.domain, log: createLogger({ level: 'warn', format: 'json' }) });

export function gdprCommands(): Command {
  const cmd = new Command('gdpr').description("a person's rights (access, portability, erasure reaching every recipient) and the record of processing activities");

  cmd
    .command('export <subject>')
    .description("write everything held about a data subject into a new folder: their series (CSV in the import format, SenML JSON), metadata, consents and their histories, who accessed their data, to whom it was sent, and a README")
    .requiredOption('--out <dir>', 'a new (or empty) folder')
    .option('--json', 'machine-readable output')
    .action(async function (this: Command, name: string, o: { out: string; json?: boolean }) {
      const c = contextOf(this);
      const r = await expect(() => exportSubject({ ...storage(c), subject: subjectOf(c, name), out: o.out }), ExportError);
      printJsonOrTable(!!o.json, r, () =>
        `exported ${r.subject} to ${r.out}: ${Object.entries(r.records).map(([a, n]) => `${n} records of ${a}`).join(', ') || 'no records'}; ` +
        `${r.consents} consents, ${r.access} access decisions, ${r.transfers} transfers, ${r.received} received (log entry ${r.entry})\n` +
        (r.notReadable.length ? `not readable by fedgate: ${r.notReadable.join('; ')}\n` : ''),
      );
    });

  cmd
    .command('erase <subject>')
    .description("erase a data subject's data here (stores, queued, received and dead-lettered messages), end the consents about it, and ask every recipient that received it to erase it too (signed requests, through the outbox)")
    .option('--series <glob>', "only these of the subject's series")
    .option('--reason <text>', 'why (sent to the recipients, kept with the erasure)', 'erasure requested by the data subject (GDPR Art. 17)')
    .option('--json', 'machine-readable output')
    .action(async function (this: Command, name: string, o: { series?: string; reason: string; json?: boolean }) {
      const c = contextOf(this);
      const r = await expect(() => erase({ ...storage(c), subject: subjectOf(c, name), ...(o.series ? { series: o.series } : {}), reason: o.reason, actor: operator(this) }), ErasureError);
      printJsonOrTable(!!o.json, r, () => {
        const e = r.erased;
        return (
          `erasure ${r.erasure} of ${r.subject} (${r.series.join(', ')}): ${Object.entries(e.records).map(([a, n]) => `${n} records of ${a}`).join(', ') || 'no stored records'}; ` +
          `queued messages deleted: ${e.outbox} outbox, ${e.inbox} inbox, ${e.deadLetters} dead letters (${e.rewritten} kept without them); consents ended: ${e.consents.join(', ') || 'none'}\n` +
          (e.notErased.length ? `NOT erased (outside fedgate's reach): ${e.notErased.join('; ')}\n` : '') +
          (r.requests.length ? `erasure requests queued: ${r.requests.map((q) => `${q.recipient} (from ${q.app})`).join(', ')}; follow them with: fedgate gdpr erasures\n` : 'no recipient received this data: no request to send\n')
        );
      });
    });

  cmd
    .command('erasures')
    .description('list the erasures made here and, for each recipient, its request: queued, not delivered (why), delivered, or confirmed (records erased); and the requests received from sources')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { json?: boolean }) {
      const store = new ErasureStore(contextOf(this).db);
      const list = store.list();
      const received = store.received();
      const unfinished = store.unfinished();
      if (o.json) {
        printJsonOrTable(true, { total: list.length, rows: list, received, unfinished }, () => '');
        return;
      }
      const rows = list.flatMap((e) =>
        (e.requests.length ? e.requests : [null]).map((q) => [
          String(e.id),
          when(e.at),
          e.subject,
          e.series.join(' '),
          q ? q.recipient : '-',
          q ? (q.state === 'confirmed' ? `confirmed ${when(q.confirmedAt ?? null)}: ${q.records} records${q.complete ? '' : ', INCOMPLETE'}${q.note ? ` (${q.note})` : ''}` : q.state === 'not delivered' ? `not delivered: ${q.reason}` : q.state === 'delivered' ? 'delivered, not confirmed (a recipient that is not a fedgate gateway never confirms: ask it)' : q.state) : 'no recipient',
        ]),
      );
      process.stdout.write(list.length === 0 ? 'no erasures made here\n' : formatTable([['ID', 'AT', 'SUBJECT', 'SERIES', 'RECIPIENT', 'STATE'], ...rows]));
      for (const u of unfinished) {
        process.stdout.write(`UNFINISHED: the erasure of ${u.subject} (${u.series.join(' ')}) started ${when(u.startedAt)} did not end; run \`fedgate gdpr erase ${u.subject}\` again with the same series to finish it\n`);
      }
      if (received.length) {
        process.stdout.write(
          `\nrequests received from the sources of our apps' data\n` +
            formatTable([
              ['APP', 'FROM', 'REQUEST', 'SERIES', 'RECEIVED', 'APPLIED'],
              ...received.map((r) => [r.app, r.sender, r.request, r.series.join(' '), when(r.receivedAt), r.appliedAt === null ? 'waiting' : `${when(r.appliedAt)}: ${r.records} records${r.complete ? '' : ', INCOMPLETE'}${r.note ? ` (${r.note})` : ''}`]),
            ]),
        );
      }
    });

  cmd
    .command('register')
    .description('the record of processing activities (GDPR Art. 30), generated from the configuration, the consents, the data held and the transparency log')
    .option('--json', 'machine-readable output')
    .action(async function (this: Command, o: { json?: boolean }) {
      const c = contextOf(this);
      const r = await buildRegister({ ...storage(c), ...(c.config.gdpr.controller ? { controller: c.config.gdpr.controller } : {}), ...(c.config.gdpr.contact ? { contact: c.config.gdpr.contact } : {}) });
      if (o.json) printListOrTable(true, r.activities, () => '');
      else process.stdout.write(formatRegister(r));
    });

  return cmd;
}
