/**
 * `fedgate audit …`: the transparency log from the shell — the gateway's public key, offline
 * verification of a whole log (database or export), proofs of single entries and their check with
 * nothing but a key, the log's listing (who accessed what, when), and the peers' signatures kept as
 * evidence.
 */
import { Command } from 'commander';
import { existsSync, readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { openDatabase, type Db } from '../store/database.js';
import { LogStore } from '../trace/log-store.js';
import { loadOrCreateKey, logOrigin, rotateKey, KeyFileError } from '../trace/keys.js';
import { gatewayProcessAlive, isAlive, readRuntimeStatus } from '../runtime-status.js';
import { traceOf } from '../trace/trace.js';
import { NoteError, parseVerifierKey, type NoteVerifier } from '../trace/note.js';
import { databaseSource, exportSource, verifyLog, writeExport, type LogSource } from '../trace/verify.js';
import { checkProof, proveEntry, ProofError } from '../trace/proofs.js';
import { decodeEntry, type FieldValue } from '../trace/entry.js';
import { FormatError } from '../trace/formats.js';
import { EvidenceStore } from '../trace/evidence.js';
import { seriesMatcher } from '../transfer/series-pattern.js';
import { parseDuration, parseIsoWithOffset, TimeFormatError } from '../quoalise/time.js';
import { CliError, contextOf, formatTable, intArg, operation, printJsonOrTable } from './context.js';
import type { Config } from '../config/schema.js';

const guard = <T>(fn: () => T): T => operation(fn, KeyFileError, ProofError, FormatError, NoteError);

/** The gateway's own signer, from the configuration (created if this is the first use). */
function ownKey(config: Config): NoteVerifier {
  return guard(() => loadOrCreateKey(config.trace.key_file, logOrigin(config.link.domain)).signer);
}

/** `--key` values: encoded verifier keys, or files holding one per line. */
function trustedKeys(values: string[]): NoteVerifier[] {
  const keys: NoteVerifier[] = [];
  for (const v of values) {
    const lines = !v.includes('+') && existsSync(v) ? readFileSync(v, 'utf8').split('\n').filter((l) => l.trim()) : [v];
    for (const l of lines) {
      try {
        keys.push(parseVerifierKey(l));
      } catch (err) {
        if (err instanceof NoteError) throw new CliError(`--key ${v.slice(0, 80)}: ${err.message} (expected a verifier key such as energy.example.org/fedgate+1a2b3c4d+AQ…, or a file holding one)`, 2);
        throw err;
      }
    }
  }
  return keys;
}

function openLogFile(path: string): Db {
  if (!existsSync(path)) throw new CliError(`no such database: ${path}`, 1);
  const db = openDatabase(path, { readonly: true, migrate: false });
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'trace_entries'").get()) throw new CliError(`${path} holds no transparency log (made by a fedgate without one)`, 1);
  return db;
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** `--since`: an ISO 8601 time with offset, or an ISO 8601 duration meaning "that long ago". */
function since(s: string): number {
  try {
    return s.startsWith('P') ? Date.now() - parseDuration(s) * 1000 : Math.round(parseIsoWithOffset(s) * 1000);
  } catch (err) {
    if (err instanceof TimeFormatError) throw new CliError(`--since: ${err.message}`, 2);
    throw err;
  }
}

/** One line per entry: its fields as key=value, digests shortened. */
function summary(fields: Record<string, FieldValue>): string {
  const show = (v: FieldValue): string =>
    Array.isArray(v) ? v.join(',') : v !== null && typeof v === 'object' ? `{${Object.entries(v).map(([k, x]) => `${k}=${show(x)}`).join(' ')}}` : typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? `${v.slice(0, 12)}…` : String(v);
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(' ');
}

export function auditCommands(): Command {
  const audit = new Command('audit').description("the gateway's transparency log: keys, verification, proofs, listing");

  audit
    .command('key')
    .description("print the gateway's public key (signed-note verifier key), as published on the domain's disco#info; creates the key on first use")
    .option('--rotate', 'replace the key (gateway stopped): the old key signs the log\'s record of the new one, then is kept aside')
    .action(function (this: Command, o: { rotate?: boolean }) {
      const { config, db } = contextOf(this);
      if (!o.rotate) {
        process.stdout.write(`${ownKey(config).encoded}\n`);
        return;
      }
      const running = readRuntimeStatus(db);
      if (running && (isAlive(running) || gatewayProcessAlive(running))) throw new CliError(`the gateway is running (pid ${running.pid}${isAlive(running) ? '' : ', its heartbeat stale: hung, stopped or unable to write'}): stop it before rotating its key`, 1);
      const r = guard(() => rotateKey(db, config.trace.key_file, logOrigin(config.link.domain), traceOf(db).actor));
      process.stdout.write(
        `${r.next.encoded}\n` +
          `the log records the rotation, signed by the previous key ${r.previous.encoded}\n` +
          `previous key file kept as ${r.retired}; publish the new key to those who check this gateway's proofs\n`,
      );
    });

  audit
    .command('verify')
    .description('recompute the whole log and check every signed checkpoint; exit 0 only if all holds, else name the first entry that does not')
    .option('--db <file>', 'a database file (a copy of the gateway\'s), instead of the configured one')
    .option('--export <file>', 'an export file (fedgate audit export)')
    .option('--key <key>', 'a trusted verifier key, or a file holding some (repeatable); default: the gateway\'s own keys', collect, [])
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { db?: string; export?: string; key: string[]; json?: boolean }) {
      if (o.db && o.export) throw new CliError('give --db or --export, not both', 2);
      let source: LogSource;
      let db: Db | null = null;
      let own: NoteVerifier | null = null;
      if (o.export) source = guard(() => exportSource(o.export!));
      else if (o.db) source = databaseSource(new LogStore((db = openLogFile(o.db))));
      else {
        const ctx = contextOf(this);
        db = ctx.db;
        source = databaseSource(new LogStore(db));
        own = ownKey(ctx.config);
      }
      // Whom to trust: the keys given; else the gateway's own key and the earlier keys its log names
      // (rotation); else, for a file, only the keys the file names itself — which proves consistency,
      // not authorship, and is said so.
      let keys = trustedKeys(o.key);
      let note = '';
      if (keys.length === 0) {
        keys = trustedKeys(source.keys.filter((k) => k !== own?.encoded));
        if (own) keys.push(own);
        else note = "checked against the keys the log names itself: pass --key with the gateway's published key to rule out a substituted log";
      }
      const report = guard(() => verifyLog(source, keys));
      db?.close();
      if (o.json) process.stdout.write(`${JSON.stringify({ ...report, note: note || undefined }, null, 2)}\n`);
      else {
        const uncovered = report.entries - report.covered;
        process.stdout.write(
          `log ${report.origin ?? '(no checkpoint yet)'}: ${report.entries} entries and ${report.checkpoints} signed checkpoints verified` +
            (uncovered > 0 && report.ok ? ` (${uncovered} entries written after the last checkpoint are not signed yet)` : '') +
            '\n' +
            (note ? `note: ${note}\n` : ''),
        );
      }
      if (!report.ok) throw new CliError(`verification FAILED: ${report.problem!.message}`, 1);
      if (!o.json) process.stdout.write('OK\n');
    });

  audit
    .command('prove <entry>')
    .description('write the proof of one entry (the entry, its inclusion proof and a signed checkpoint: c2sp.org/tlog-proof) for anyone to check offline')
    .option('--db <file>', 'a database file instead of the configured one')
    .option('-o, --out <file>', 'write the proof here (default: standard output)')
    .action(function (this: Command, entry: string, o: { db?: string; out?: string }) {
      const idx = /^\d+$/.test(entry) ? Number(entry) : intArg(entry, 'entry index');
      const db = o.db ? openLogFile(o.db) : contextOf(this).db;
      const proof = guard(() => proveEntry(new LogStore(db), idx));
      if (o.out) writeFileSync(o.out, proof);
      else process.stdout.write(proof);
    });

  audit
    .command('check <proof>')
    .description('verify a proof file (an entry proof, a signed receipt or a proof of origin) with nothing but the signer\'s key; no database needed')
    .requiredOption('--key <key>', 'the verifier key of the gateway that signed it, or a file holding it (repeatable)', collect, [])
    .option('--json', 'machine-readable output')
    .action(function (this: Command, file: string, o: { key: string[]; json?: boolean }) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`, 1);
      }
      const checked = guard(() => checkProof(text, trustedKeys(o.key)));
      printJsonOrTable(!!o.json, checked, () => `OK: ${checked.kind} ${checked.index} of ${checked.origin} (size ${checked.size}), signed by ${checked.signedBy}\n${checked.content}\n`);
    });

  audit
    .command('list')
    .description('the log, oldest first: who accessed what, what was sent and received, what changed')
    .option('--since <time>', 'from this time on: ISO 8601 with offset, or a duration ago (PT1H, P7D)', since)
    .option('--kind <kind>', 'only this kind and its sub-kinds (repeatable): access, grant, transfer.received, dead-letter, app, consumer…', collect, [])
    .option('--series <glob>', 'only entries naming a series that matches (* and ?)')
    .option('--limit <n>', 'at most this many entries', '100')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { since?: number; kind: string[]; series?: string; limit: string; json?: boolean }) {
      const store = new LogStore(contextOf(this).db);
      const limit = intArg(o.limit, 'limit');
      const matches = o.series ? seriesMatcher(o.series) : null;
      const out: Array<{ index: number; at: string; kind: string; fields: Record<string, FieldValue> }> = [];
      let after = -1;
      for (;;) {
        const rows = store.list({ ...(o.since !== undefined ? { since: o.since } : {}), kinds: o.kind, limit: 1000, afterIdx: after });
        for (const r of rows) {
          const e = decodeEntry(r.entry);
          const named = e.fields.series;
          if (matches && !(typeof named === 'string' ? matches(named) : Array.isArray(named) && named.some((s) => matches(s)))) continue;
          out.push({ index: r.idx, at: new Date(e.at).toISOString(), kind: e.kind, fields: e.fields });
          if (out.length >= limit) break;
        }
        if (rows.length < 1000 || out.length >= limit) break;
        after = rows.at(-1)!.idx;
      }
      printJsonOrTable(!!o.json, out, () =>
        out.length === 0 ? 'no entries\n' : formatTable([['INDEX', 'TIME', 'KIND', 'WHAT'], ...out.map((e) => [String(e.index), e.at, e.kind, summary(e.fields)])]),
      );
    });

  audit
    .command('export <file>')
    .description('write the whole log (entries, checkpoints, keys) to a file that fedgate audit verify --export checks anywhere')
    .action(function (this: Command, file: string) {
      const { db, config } = contextOf(this);
      const fd = openSync(file, 'w');
      try {
        const n = writeExport(new LogStore(db), logOrigin(config.link.domain), (s) => void writeSync(fd, s));
        process.stdout.write(`exported ${n.entries} entries and ${n.checkpoints} checkpoints to ${file}\n`);
      } finally {
        closeSync(fd);
      }
    });

  audit
    .command('peer-proof <entry>')
    .description("the peer's signature kept for a message of a log entry — a sender's proof of origin or a receiver's signed receipt — as a proof file to check with the peer's key")
    .option('--message <id>', 'the message (an entry records the messages of one commit; not needed when it records one)')
    .option('-o, --out <file>', 'write it here (default: standard output)')
    .action(function (this: Command, entry: string, o: { message?: string; out?: string }) {
      const idx = /^\d+$/.test(entry) ? Number(entry) : intArg(entry, 'entry index');
      const row = new EvidenceStore(contextOf(this).db).proof(idx, o.message);
      if (!row) throw new CliError(`entry ${idx} holds no peer signature${o.message ? ` for message ${o.message}` : ''} (the peer publishes no key, or the entry records no exchange)`, 1);
      if ('ids' in row) throw new CliError(`entry ${idx} records several signed messages: choose one with --message (${row.ids.join(', ')})`, 2);
      if (o.out) writeFileSync(o.out, row.proof);
      else process.stdout.write(row.proof);
      process.stderr.write(`check it with: fedgate audit check FILE --key '${row.peer}'\n`);
    });

  return audit;
}
