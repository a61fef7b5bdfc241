/**
 * The metrics listener, on its own worker thread (`metrics.listen`): Prometheus metrics at /metrics,
 * liveness and readiness at /health and /health/ready, the status page at / and its data at
 * /status.json. Queue sizes and flow counters are read here from SQLite, so that a scrape with a
 * million rows queued never holds up the XMPP thread; the main thread only hands over its in-memory
 * metrics and live state when asked (observe-service.ts). Read-only: nothing here writes.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { Counter, Gauge, Registry } from 'prom-client';
import { openDatabase } from '../store/database.js';
import { parseHostPort } from '../config/schema.js';
import { readStatus, type StatusView } from './status-view.js';
import { statusPageHeaders, statusPageHtml } from './status-page.js';
import type { FromObserveWorker, LiveState, ObserveWorkerData, ToObserveWorker } from './observe-protocol.js';
import { BoundedLabels } from './bounded-labels.js';

const data = workerData as ObserveWorkerData;
const db = openDatabase(data.dbPath, { migrate: false, noCheckpoints: true });
/** The main thread has this long to answer; past it, it is stuck: not alive. */
const ASK_TIMEOUT_MS = 2000;

function post(m: FromObserveWorker): void {
  parentPort!.postMessage(m);
}

// Asking the main thread: one pending question at a time is enough; concurrent requests share it.
let nextId = 1;
const waiting = new Map<number, (a: { metrics: string; live: LiveState } | null) => void>();
let inFlight: Promise<{ metrics: string; live: LiveState } | null> | null = null;

function askMain(): Promise<{ metrics: string; live: LiveState } | null> {
  inFlight ??= new Promise<{ metrics: string; live: LiveState } | null>((resolve) => {
    const id = nextId++;
    const timer = setTimeout(() => {
      waiting.delete(id);
      resolve(null);
    }, ASK_TIMEOUT_MS);
    waiting.set(id, (a) => {
      clearTimeout(timer);
      resolve(a);
    });
    post({ t: 'ask', id });
  }).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

parentPort!.on('message', (m: ToObserveWorker | 'cancel') => {
  if (m === 'cancel') {
    server.close();
    db.close();
    process.exit(0);
  }
  if (m.t === 'answer') {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    w?.({ metrics: m.metrics, live: m.live });
  }
});

// What SQLite knows, as metrics: set from one status reading per scrape.
const registry = new Registry();
const registers = [registry];
const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });
const outbox = gauge('fedgate_outbox_messages', 'Messages waiting in the outbox, by sending app and destination', ['app', 'destination']);
const inbox = gauge('fedgate_inbox_pending_messages', 'Messages received and not yet applied, by app', ['app']);
const dead = gauge('fedgate_dead_letters', 'Dead letters kept, by app', ['app']);
const deadTotal = gauge('fedgate_dead_letters_all', 'Dead letters kept, all apps');
// Counted in SQLite (schema/009): the values are read as they are, not accumulated here.
const counter = (name: string, help: string, labelNames: string[]) => new Counter({ name, help, labelNames, registers });
const flowMessages = counter('fedgate_flow_messages_total', 'Messages queued (out) or received (in) on a flow since the database was created', ['direction', 'app', 'peer']);
const flowRecords = counter('fedgate_flow_records_total', 'Records queued (out) or received (in) on a flow since the database was created', ['direction', 'app', 'peer']);
const laneHeld = gauge('fedgate_lane_held', '1 while the lane to a destination is held after a failure (for `other`: how many are)', ['destination']);
const consent = gauge('fedgate_consent_requests_pending', 'Consent requests waiting for a decision');
const trace = gauge('fedgate_trace_entries', 'Entries in the transparency log');
const purgeHeld = gauge('fedgate_retention_purge_held', '1 while the hourly retention purge holds: the wall clock is more than a day past the last purge (run fedgate retention purge if the time is right)');
const dbBytes = gauge('fedgate_database_bytes', 'Size of the SQLite files (with their write-ahead log)', ['file']);
const heartbeat = gauge('fedgate_heartbeat_age_seconds', "Age of the running gateway's heartbeat in SQLite");

function fileBytes(path: string): number {
  let n = 0;
  for (const p of [path, `${path}-wal`]) {
    try {
      n += statSync(p).size;
    } catch {
      /* not there */
    }
  }
  return n;
}

/** Destinations and peers include subscribers' JIDs: a bounded set of label values (beyond it, `other`, summed). */
const peers = new BoundedLabels();

function setGauges(s: StatusView): void {
  for (const g of [outbox, inbox, dead, flowMessages, flowRecords, laneHeld]) g.reset();
  for (const f of s.flows) {
    const remote = peers.of(f.direction === 'out' ? f.to : f.from);
    if (f.queued) outbox.inc({ app: f.from, destination: f.direction === 'out' ? remote : f.to }, f.queued);
    const labels = { direction: f.direction, app: f.direction === 'out' ? f.from : f.to, peer: remote };
    if (f.messages) {
      flowMessages.inc(labels, f.messages);
      flowRecords.inc(labels, f.records);
    }
    // Summed: destinations past the bound share `other` (the count of their held lanes).
    if (f.direction === 'out' && f.lane) laneHeld.inc({ destination: remote }, f.lane.heldUntil ? 1 : 0);
  }
  for (const a of s.apps) {
    inbox.set({ app: a.name }, a.inboxPending);
    dead.set({ app: a.name }, a.deadLetters);
  }
  deadTotal.set(s.totals.deadLetters);
  consent.set(s.consent?.count ?? 0);
  trace.set(s.traceSize ?? 0);
  purgeHeld.set(s.purgeHeld ? 1 : 0);
  for (const [file, path] of Object.entries(data.files)) dbBytes.set({ file }, fileBytes(path));
  const hb = db.prepare('SELECT heartbeat_at FROM runtime WHERE id = 1').pluck().get() as number | undefined;
  heartbeat.set(hb === undefined ? 0 : Math.max(0, (Date.now() - hb) / 1000));
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
  res.writeHead(status, { 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, `${JSON.stringify(value, null, 2)}\n`, { 'content-type': 'application/json; charset=utf-8' });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET\n', { 'content-type': 'text/plain', allow: 'GET, HEAD' });
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  switch (path) {
    case '/metrics': {
      const main = await askMain();
      setGauges(readStatus(db, { domain: data.domain, maxFlows: Infinity }));
      const own = await registry.metrics();
      // Without the main thread's part the scrape would look like a gateway without traffic: fail it instead.
      if (!main) return send(res, 503, '# the gateway main thread did not answer\n', { 'content-type': 'text/plain' });
      return send(res, 200, main.metrics + own, { 'content-type': registry.contentType });
    }
    case '/health':
    case '/health/live': {
      const main = await askMain();
      return json(res, main ? 200 : 503, main ? { status: 'alive', link: main.live.link } : { status: 'unresponsive', reason: `the main thread did not answer within ${ASK_TIMEOUT_MS} ms` });
    }
    case '/health/ready': {
      const main = await askMain();
      if (!main) return json(res, 503, { ready: false, reasons: [`the main thread did not answer within ${ASK_TIMEOUT_MS} ms`] });
      const reasons: string[] = [];
      if (main.live.link !== 'online') reasons.push(`link ${main.live.link}`);
      for (const [app, state] of Object.entries(main.live.apps)) if (state !== 'ready') reasons.push(`app ${app} ${state}`);
      return json(res, reasons.length ? 503 : 200, { ready: reasons.length === 0, link: main.live.link, reasons });
    }
    case '/status.json':
      return json(res, 200, readStatus(db, { domain: data.domain }));
    case '/': {
      const nonce = randomBytes(16).toString('base64');
      return send(res, 200, statusPageHtml(nonce), statusPageHeaders(nonce));
    }
    case '/favicon.ico':
      return send(res, 204, '', {});
    default:
      return send(res, 404, 'not found: try /, /metrics, /health, /health/ready, /status.json\n', { 'content-type': 'text/plain' });
  }
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (!res.headersSent) send(res, 500, `${(err as Error).message}\n`, { 'content-type': 'text/plain' });
    else res.destroy();
  });
});
server.on('error', (err: NodeJS.ErrnoException) => {
  post({ t: 'listen-failed', message: `${data.listen}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}` });
  setTimeout(() => process.exit(1), 50);
});
const { host, port } = parseHostPort(data.listen);
server.listen(port, host, () => post({ t: 'listening' }));
