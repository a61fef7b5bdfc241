/**
 * The right of access and to data portability (GDPR Art. 15 and 20): `fedgate gdpr export SUBJECT --out
 * DIR` writes, for one data subject, a folder that a person can read and a program can load:
 *
 *   README.md                what each file is, in plain English
 *   subject.json             who, which series, when the export was made, the log it was read from
 *   data/APP.csv             the records, in the import format of `fedgate store import`
 *   data/APP.meta.json       their metadata, the import's sidecar
 *   data/APP.senml.json      the same records as SenML JSON (RFC 8428)
 *   series.json              every series held, per app: metadata, number of records, time span
 *   consents.json            the consents and grants about them, each with its history of events
 *   access.json              who asked for their data and when (the log's access decisions)
 *   transfers.json           to whom their data was sent and when (the log's confirmed transfers)
 *   received.json            from whom the gateway received their data (the log's received transfers)
 *   erasures.json            erasures made of their data, and what each recipient confirmed
 *   not-readable.json        apps that may hold their data in a system fedgate cannot read
 *
 * Records are read through the adapter contract's module-level `read` (no side effects of `create`).
 * Log entries keep their index: `fedgate audit prove INDEX` proves any of them to a third party.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import type { SeriesRecord } from '../quoalise/types.js';
import { formatIsoUtc } from '../quoalise/time.js';
import { patternCovers, patternsOverlap, seriesMatcher } from '../transfer/series-pattern.js';
import { ConsentStore } from '../consent/consent-store.js';
import type { Subject } from '../consent/parties.js';
import { LogStore } from '../trace/log-store.js';
import { traceOf } from '../trace/trace.js';
import { appStorages } from './app-storage.js';
import { ErasureStore } from './erasure-store.js';

export class ExportError extends Error {
  override name = 'ExportError';
}

export interface ExportOptions {
  db: Db;
  databasePath: string;
  domain: string;
  log: Logger;
  subject: Subject;
  out: string;
  now?: number;
}

export interface ExportReport {
  out: string;
  subject: string;
  files: string[];
  /** Records written per app. */
  records: Record<string, number>;
  access: number;
  transfers: number;
  received: number;
  consents: number;
  notReadable: string[];
  entry: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** A CSV field of the import format: numbers and booleans bare, text always quoted (so "42" stays text). */
function csvValue(r: SeriesRecord): string {
  if (r.value !== undefined) return String(r.value);
  if (r.boolValue !== undefined) return String(r.boolValue);
  return `"${(r.stringValue ?? '').replace(/"/g, '""')}"`;
}
const csvText = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** One SenML JSON record, exact: the base name once per series, absolute times (RFC 8428 §4.5.3). */
function senml(r: SeriesRecord, first: boolean): string {
  const o: Record<string, unknown> = first ? { bn: r.name } : {};
  o.t = r.time;
  if (r.unit !== undefined) o.u = r.unit;
  if (r.value !== undefined) o.v = r.value;
  else if (r.boolValue !== undefined) o.vb = r.boolValue;
  else o.vs = r.stringValue ?? '';
  return JSON.stringify(o);
}

/** A log entry's fields, its index and time, for the JSON files. */
function entries(db: Db, kinds: string[], keep: (f: Record<string, unknown>) => boolean): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const rows = db.prepare(`SELECT idx, at, kind, entry FROM trace_entries WHERE kind IN (${kinds.map(() => '?').join(', ')}) ORDER BY idx`).iterate(...kinds) as Iterable<{ idx: number; at: number; kind: string; entry: string }>;
  for (const r of rows) {
    const { at: _a, kind: _k, ...fields } = JSON.parse(r.entry) as Record<string, unknown>;
    if (keep(fields)) out.push({ entry: r.idx, at: iso(r.at), kind: r.kind, ...fields });
  }
  return out;
}

/**
 * Transfer entries (one per commit and peer, listing its messages; older logs: one per message) as one
 * row per message that carried one of the person's series, with its entry's number and time.
 */
function messagesOf(list: Array<Record<string, unknown>>, ours: (series: string) => boolean): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const { messages, series: _s, ...entry } of list) {
    for (const m of (messages as Array<Record<string, unknown>> | undefined) ?? [{ ...entry, series: _s }]) {
      const series = (m.series as string[] | undefined) ?? [];
      if (!Number(m.records ?? 0) || !series.some(ours)) continue;
      out.push({ ...entry, ...m });
    }
  }
  return out;
}

export async function exportSubject(o: ExportOptions): Promise<ExportReport> {
  const now = o.now ?? Date.now();
  if (existsSync(o.out) && readdirSync(o.out).length > 0) throw new ExportError(`${o.out} exists and is not empty: choose a new folder (an export never overwrites)`);
  // Written aside, put in place whole at the end: an export cut short never looks complete. Private
  // (it holds a person's data): 0700, or the mode of the folder the operator made for it.
  // One name per output folder: an export killed before (its copy of a person's data half written) is
  // removed by the next one, never left beside it for good (nor those of the older pid-named kind).
  const out = o.out.replace(/\/+$/, '');
  const dir = `${out}.partial`;
  rmSync(dir, { recursive: true, force: true });
  const parent = dirname(resolve(out));
  if (existsSync(parent)) {
    for (const f of readdirSync(parent)) if (f.startsWith(`${basename(out)}.partial-`)) rmSync(join(parent, f), { recursive: true, force: true });
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
  chmodSync(dir, existsSync(o.out) ? statSync(o.out).mode & 0o777 : 0o700);
  try {
    return await writeExport(o, dir, now);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    // The operator's to fix, in one line (it reached them as an "unexpected error" and a stack trace).
    if ((err as { code?: unknown }).code === 'ENOSPC') throw new ExportError(`the disk holding ${o.out} is full: nothing was exported; free some space there and run the export again`);
    throw err;
  }
}

async function writeExport(o: ExportOptions, dir: string, now: number): Promise<ExportReport> {
  const globs = o.subject.series;
  const ours = (series: string) => globs.some((g) => seriesMatcher(g)(series));
  const files: string[] = [];
  const write = (name: string, value: unknown) => {
    writeFileSync(join(dir, name), typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`);
    files.push(name);
  };

  // The records, read through each app's adapter module.
  const records: Record<string, number> = {};
  const series: Record<string, Array<Record<string, unknown>>> = {};
  const notReadable: string[] = [];
  for (const { app, module, ctx } of appStorages(o.db, o)) {
    if (!module.read) {
      if (module.acceptsData?.(ctx.options as never)) notReadable.push(`${app.name} (${app.kind}): what it received is kept in its own system, which fedgate cannot read; ask its operator`);
      continue;
    }
    let csv: number | null = null;
    let json: number | null = null;
    const meta: Record<string, unknown> = {};
    let n = 0;
    let current = '';
    for (const g of globs) {
      const before = new Set(Object.keys(meta)); // a series matched by two of the person's globs is written once
      for await (const chunk of module.read(ctx, { series: g, records: true })) {
        const id = chunk.series.identifier;
        if (before.has(id)) continue;
        if (!(id in meta)) {
          meta[id] = chunk.series.meta;
          (series[app.name] ??= []).push({
            ...chunk.series,
            ...(chunk.series.first !== undefined ? { first: formatIsoUtc(chunk.series.first) } : {}),
            ...(chunk.series.last !== undefined ? { last: formatIsoUtc(chunk.series.last) } : {}),
          });
        }
        if (chunk.records.length === 0) continue;
        if (csv === null) {
          csv = openSync(join(dir, 'data', `${app.name}.csv`), 'w');
          json = openSync(join(dir, 'data', `${app.name}.senml.json`), 'w');
          writeSync(csv, 'identifier,time,value,unit\n');
          writeSync(json, '[\n');
        }
        let text = '';
        let js = '';
        for (const r of chunk.records) {
          text += `${csvText(r.name)},${formatIsoUtc(r.time)},${csvValue(r)},${r.unit === undefined ? '' : csvText(r.unit)}\n`;
          js += `${n > 0 ? ',\n' : ''}${senml(r, r.name !== current)}`;
          current = r.name;
          n++;
        }
        writeSync(csv, text);
        writeSync(json!, js);
      }
    }
    if (csv !== null) {
      writeSync(json!, '\n]\n');
      closeSync(csv);
      closeSync(json!);
      files.push(`data/${app.name}.csv`, `data/${app.name}.senml.json`);
      write(`data/${app.name}.meta.json`, meta);
      records[app.name] = n;
    }
  }
  write('series.json', series);

  // Consents about them: their own, and those about no one that cover their series.
  const consents = new ConsentStore(o.db);
  const about = [...consents.list({ subject: o.subject.name, limit: Number.MAX_SAFE_INTEGER }), ...consents.list({ subject: null, limit: Number.MAX_SAFE_INTEGER })].filter(
    (c) => c.subject === o.subject.name || globs.some((g) => patternsOverlap(g, c.series)),
  );
  write(
    'consents.json',
    about.map((c) => ({ ...c, aboutThem: c.subject === o.subject.name ? 'yes' : globs.some((g) => patternCovers(g, c.series)) ? 'only their series' : 'their series among others', events: consents.events(c.id) })),
  );

  // The log: who asked for their data, to whom it went, from whom it came.
  const access = entries(o.db, ['access'], (f) => typeof f.series === 'string' && ours(f.series));
  const transfers = messagesOf(entries(o.db, ['transfer.sent'], () => true), ours);
  const received = messagesOf(entries(o.db, ['transfer.received'], () => true), ours);
  write('access.json', access);
  write('transfers.json', transfers);
  write('received.json', received);
  write('erasures.json', new ErasureStore(o.db).list().filter((e) => e.subject === o.subject.name));
  write('not-readable.json', notReadable);

  const log = new LogStore(o.db);
  const checkpoint = log.lastCheckpoint();
  write('subject.json', {
    subject: o.subject.name,
    jid: o.subject.jid,
    series: globs,
    exportedAt: iso(now),
    gateway: o.domain,
    log: { entries: log.size(), checkpoint: checkpoint?.note ?? null },
  });
  write('README.md', readme(o, { records, access: access.length, transfers: transfers.length, received: received.length, consents: about.length, notReadable }, now));
  // The export is itself an access to the person's data: the log says so (counts, never data).
  if (existsSync(o.out)) rmdirSync(o.out);
  renameSync(dir, o.out);
  const entry = traceOf(o.db).write('gdpr.export', { subject: o.subject.name, series: globs, records, access: access.length, transfers: transfers.length, by: traceOf(o.db).actor }, now);
  return { out: o.out, subject: o.subject.name, files, records, access: access.length, transfers: transfers.length, received: received.length, consents: about.length, notReadable, entry };
}

function readme(o: ExportOptions, c: Pick<ExportReport, 'records' | 'access' | 'transfers' | 'received' | 'consents' | 'notReadable'>, now: number): string {
  const total = Object.values(c.records).reduce((a, b) => a + b, 0);
  return `# Your data held by ${o.domain}

This folder is a copy of the data the gateway ${o.domain} holds about **${o.subject.name}** (series
${o.subject.series.map((s) => `\`${s}\``).join(', ')}), made on ${iso(now)} at your request (GDPR
articles 15 and 20: right of access, right to data portability). It was written by fedgate, the
gateway's software, from its own records: nothing was left out on purpose.

## The files

| file | what it holds |
| --- | --- |
| \`data/APP.csv\` | your measurements kept by the application APP: one line per record — the series (\`identifier\`), the time (ISO 8601, UTC), the value, the unit. ${total} records in all. This is the format \`fedgate store import\` reads: another fedgate gateway can import it as it is. |
| \`data/APP.meta.json\` | what each series measures (device, quantity, unit, sampling interval): the companion of the CSV file for an import. |
| \`data/APP.senml.json\` | the same records as SenML JSON (RFC 8428), the measurement format of the energy federation: any SenML reader can load them. |
| \`series.json\` | each series held, per application: what it measures, how many records, from when to when. |
| \`consents.json\` | the ${c.consents} consents and grants about your data — who may read it, for what purpose, on which legal basis, until when — each with its full history (who asked, who decided, when, and the evidence). |
| \`access.json\` | the ${c.access} times someone asked the gateway for your data (\`get_history\`, \`subscribe\`…), whether it was allowed or refused and why, and the record that allowed it. |
| \`transfers.json\` | the ${c.transfers} messages that carried your data to someone else (another gateway's application, a subscriber), when, and whether the recipient signed a receipt. |
| \`received.json\` | the ${c.received} messages that brought your data to this gateway, and from whom. |
| \`erasures.json\` | erasures of your data made here, and which recipients confirmed that they erased it too. |
| \`not-readable.json\` | applications that may keep your data in a system of their own that the gateway cannot read${c.notReadable.length ? '' : ' (none)'}: ask their operators. |
| \`subject.json\` | who this export is about, when it was made, and the gateway's transparency log at that moment. |

## How to check it

Every line of \`access.json\`, \`transfers.json\` and \`received.json\` comes from the gateway's
transparency log, an append-only record signed by the gateway; \`entry\` is its number there. Anyone
can ask the operator for a proof of an entry (\`fedgate audit prove ENTRY\`) and check it with the
gateway's public key (\`fedgate audit check\`), without trusting the operator. The log holds no
measurement, only who, what and when.

## What you can do

Read your own series at any time from an XMPP client (\`get_history\` on the application's address);
list what is held, who may read it and who received it with the \`my_data\` command there; withdraw a
consent with \`withdraw\`; ask the operator to correct or erase your data (\`fedgate gdpr erase\`): the
gateway then asks every recipient to erase it too, and records who confirmed.
`;
}
