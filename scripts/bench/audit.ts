/**
 * bench:audit — the transparency log at a million entries (issue 9: `fedgate audit verify` < 10 s here,
 * a proof of about twenty hashes).
 *   1. a log of N realistic entries (received transfers and Quoalise decisions), written through the
 *      append API in commits of 1,000, its tree built and a checkpoint signed every 5,000 entries (a
 *      gateway signing every 5 s at 1,000 entries/s);
 *   2. `fedgate audit verify --db` (the real command, its own process), beside the floor any verifier
 *      pays, measured in the same run: reading every entry from SQLite and hashing it once;
 *   3. `fedgate audit prove` of an entry near the end and `fedgate audit check` of the proof: its size.
 *   npm run bench:audit [-- --entries 1000000 --export]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { openDatabase } from '../../component/store/database.js';
import { configureTrace } from '../../component/trace/trace.js';
import { LogStore } from '../../component/trace/log-store.js';
import { generateSigner } from '../../component/trace/note.js';
import { parseProof } from '../../component/trace/formats.js';
import { CLI } from '../../test/helpers/fedgate.js';
import { fmt, printTable } from './lib/stats.js';

const { values } = parseArgs({ options: { entries: { type: 'string', default: '1000000' }, export: { type: 'boolean', default: false } } });
const N = Number(values.entries);
const ORIGIN = 'energy.example.org/fedgate';
const CHECKPOINT_EVERY = 5000;

const dir = mkdtempSync(join(tmpdir(), 'fedgate-bench-audit-'));
const path = join(dir, 'fedgate.sqlite');
try {
  const db = openDatabase(path);
  const trace = configureTrace(db, { enabled: true });
  const store = new LogStore(db);
  const signer = generateSigner(ORIGIN);
  const digest = (i: number) => createHash('sha256').update(String(i)).digest('hex');
  let at = Date.parse('2024-06-01T00:00:00Z');
  process.stderr.write(`writing ${N.toLocaleString('en-US')} entries…\n`);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += 1000) {
    db.transaction(() => {
      for (let k = i; k < Math.min(N, i + 1000); k++) {
        at += 1;
        if (k % 4 === 0) {
          trace.write('access', { requester: `user${k % 977}@example.net`, app: 'meters', command: 'get_history', series: `urn:dev:prm:300000${String(k % 9973).padStart(8, '0')}_consumption/power/active/raw`, start: '2024-01-01T00:00:00Z', end: '2024-01-02T00:00:00Z', outcome: 'allowed', grant: 12, records: 48, digest: digest(k) }, at);
        } else {
          const series = [`urn:dev:prm:300000${String(k % 9973).padStart(8, '0')}_consumption/power/active/raw`];
          trace.write('transfer.received', { app: 'sink', sender: 'meters@a.example.org', series, messages: [{ id: `fg0a1b2c3d4e5f-${k}`, digest: digest(k), records: 10, series, origin: 'verified' }] }, at);
        }
      }
    })();
    if ((i + 1000) % CHECKPOINT_EVERY === 0 || i + 1000 >= N) store.seal(signer, ORIGIN, at, 0);
  }
  const writeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const checkpoints = store.checkpoints().length;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const mb = statSync(path).size / 1e6;

  // The floor: read every entry and hash it once, nothing else (this process, same file).
  const t1 = process.hrtime.bigint();
  const ro = new Database(path, { readonly: true });
  let n = 0;
  for (const e of ro.prepare('SELECT entry FROM trace_entries ORDER BY idx').pluck().iterate() as Iterable<string>) {
    createHash('sha256').update(e).digest();
    n++;
  }
  ro.close();
  const floorSeconds = Number(process.hrtime.bigint() - t1) / 1e9;

  const timed = (args: string[]): { seconds: number; out: string } => {
    const t = process.hrtime.bigint();
    const out = execFileSync(process.execPath, [CLI, 'audit', ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
    return { seconds: Number(process.hrtime.bigint() - t) / 1e9, out };
  };
  const verify = timed(['verify', '--db', path, '--key', signer.encoded]);
  if (!verify.out.includes('OK')) throw new Error(`verify failed: ${verify.out}`);
  const target = N - 12_345 > 0 ? N - 12_345 : 0;
  const proof = timed(['prove', String(target), '--db', path]);
  const proofFile = join(dir, 'entry.tlog-proof');
  writeFileSync(proofFile, proof.out);
  const check = timed(['check', proofFile, '--key', signer.encoded]);
  const hashes = parseProof(proof.out).path.length;

  printTable(`bench:audit — a log of ${N.toLocaleString('en-US')} entries, ${checkpoints} signed checkpoints, ${fmt(mb)} MB`, 'read + hash once', [
    { figure: 'fedgate audit verify --db (whole command)', value: verify.seconds, baseline: floorSeconds, unit: 's', higherIsBetter: false },
    { figure: 'entries verified per second', value: n / verify.seconds, baseline: n / floorSeconds, unit: '/s', higherIsBetter: true },
  ]);
  process.stdout.write(
    `\nfedgate audit verify of ${N.toLocaleString('en-US')} entries: ${fmt(verify.seconds)} s (goal < 10 s)\n` +
      `proof of entry ${target}: ${hashes} hashes, ${proof.out.length} bytes (with the entry and the signed checkpoint); prove ${fmt(proof.seconds * 1000)} ms, check ${fmt(check.seconds * 1000)} ms (whole commands)\n` +
      `writing the log: ${fmt(N / writeSeconds)} entries/s through the append API, tree and checkpoints included\n`,
  );
  if (values.export) {
    const file = join(dir, 'log.jsonl');
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, [CLI, '--config', writeConfig(dir), 'audit', 'export', file]);
    const exportSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    const v = timed(['verify', '--export', file, '--key', signer.encoded]);
    process.stdout.write(`export: ${fmt(exportSeconds)} s, ${fmt(statSync(file).size / 1e6)} MB; fedgate audit verify --export: ${fmt(v.seconds)} s\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function writeConfig(d: string): string {
  const p = join(d, 'fedgate.yml');
  writeFileSync(p, 'link:\n  domain: energy.example.org\ndatabase:\n  path: fedgate.sqlite\ntrace:\n  enabled: true\n');
  return p;
}
