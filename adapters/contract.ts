/**
 * The adapter contract — the one interface between fedgate's core and an application's own system.
 *
 * An adapter connects one application (one JID on the subdomain) to that application's system: its
 * API, its database, its broker. The core owns everything else — XMPP, Quoalise and its forms,
 * authorization, the inbox and outbox, retries, dead letters — and never knows which system it serves.
 *
 * What the core promises an adapter
 * - Isolation: an adapter never runs on the XMPP thread. By default each application's adapter runs in a
 *   worker thread of its own: it may block or hang without touching the XMPP link or any other
 *   application. A module that declares `isolation: 'shared'` (its own code never blocks: fedgate's
 *   `store` and `echo`) runs many applications per thread, in a small pool sized to the cores; an app's
 *   `isolation` option (`shared` | `own`) overrides the module's choice. Every call is time-limited (config
 *   `adapters.timeout_seconds`); a call past its limit fails for the requester, and a worker that no longer
 *   answers is restarted — in a shared worker, the calls then in flight for its other apps fail too and are
 *   retried as any failure is. Apps sharing a thread share its module state: keep per-app state in what
 *   `create` returns.
 * - Validated input: options went through `parseOptions`; series identifiers are well-formed; times are
 *   epoch seconds with `start < end`; the requester was authorized before the call.
 * - `deliver` is at-least-once, one call at a time per application, in inbox order, with one or more
 *   messages per call. Each delivery's `key` is stable across retries and restarts: an adapter that
 *   records it with the data it writes gets exactly-once effect (the built-in `store` adapter does,
 *   in the same SQLite transaction). When a call with several messages fails, the core calls again
 *   with one message at a time, to retry or dead-letter only the one at fault.
 * - `extract` is called one at a time per consumer; the cursor it returns is stored in the same SQLite
 *   transaction as the outbox rows built from the records, so a record is never taken twice or skipped.
 *
 * What an adapter promises the core
 * - The methods it implements are its capabilities: no `history` means the app serves no history, and
 *   the core answers such requests itself (`feature-not-implemented`) without calling anything.
 * - Expected failures are thrown as `AdapterError`s (below); anything else thrown is reported to the
 *   requester as a failure of the application's system (`undefined-condition` + `upstream-error`).
 * - `close` releases what `create` acquired; the worker exits right after.
 */
import type { DataBlock, Meta, RowBlock, SeriesRecord } from '../component/quoalise/types.js';
import type { Logger } from '../component/log/logger.js';

export type { RecordRow, RowBlock } from '../component/quoalise/types.js';

/** Where an app's adapter runs: in a worker shared with other apps, or in one of its own. */
export type Isolation = 'shared' | 'own';

export interface AdapterModule<Options = unknown> {
  /** The value of `--kind` that selects this module. */
  readonly kind: string;
  /**
   * The default isolation of its apps (absent: `own`). Declare `shared` only when no call can block the
   * thread — no synchronous wait on a network or a lock another system may hold — since a blocked
   * shared worker delays its neighbours until the time limit restarts it.
   */
  readonly isolation?: Isolation;
  /** One line, shown by `fedgate app add --help`. */
  readonly description: string;
  /** Checks and normalizes the app's options; throw `OptionsError` naming the bad key. Runs in the CLI too. */
  parseOptions(raw: Record<string, unknown>): Options;
  /**
   * Whether apps of this kind, with these options, accept data (their adapter has `deliver`). Declared
   * here, not discovered from a running adapter, so that the app's JID advertises fedgate's delivery
   * protocol from the moment the gateway is online — before its worker is ready, and after it
   * restarts. Senders rely on it to choose confirmed delivery. Absent: false.
   */
  acceptsData?(options: Options): boolean;
  create(ctx: AdapterContext<Options>): Adapter | Promise<Adapter>;
  /**
   * Bare JIDs whose data this app accepts for any series, without a consumer naming them — for an
   * adapter whose system is another XMPP entity that pushes to it (the `quoalise` adapter: its provider).
   * Runs on the XMPP thread when the app starts; the options come from `parseOptions`.
   */
  senders?(options: Options): string[];
  /**
   * GDPR: delete records the app keeps (the purge of what is past its retention, the erasure of a
   * person's data), in bounded batches — never one long transaction. Called by the purge job and the
   * CLI, outside the app's running adapter: it works on the app's storage directly, without the side
   * effects of `create` (no broker subscriptions, no upstream calls). Returns how many records it
   * deleted, or with `dryRun` would delete. Absent: the app keeps no records of its own.
   */
  forget?(ctx: StorageContext<Options>, request: ForgetRequest): Promise<{ records: number }>;
  /**
   * GDPR: read what the app keeps (access and portability: `fedgate gdpr export`; the register), like
   * `forget` outside the running adapter and without the side effects of `create`. Yields every series
   * matching `series` (an identifier or a glob) with its catalogue entry and, unless `records` is false,
   * its records in time order — in chunks: a series with many records comes in consecutive chunks, each
   * repeating its `series` entry. Absent: fedgate cannot read what the app's system keeps (the export
   * and the register say so).
   */
  read?(ctx: StorageContext<Options>, request: ReadRequest): AsyncIterable<StoredChunk>;
}

/** What `forget` and `read` get: the app, its options, and where fedgate keeps its files. */
export interface StorageContext<Options> {
  app: { name: string; jid: string };
  options: Options;
  log: Logger;
  /** As in AdapterContext. */
  databasePath: string;
}
/** The earlier name of StorageContext. */
export type ForgetContext<Options> = StorageContext<Options>;

export interface ReadRequest {
  /** A series identifier or a glob. */
  series: string;
  /** False: the series' catalogue entries only (the register). */
  records: boolean;
}

export interface StoredChunk {
  series: SeriesInfo;
  /** Records of that series, oldest first; empty when none were asked for (or the series has none). */
  records: SeriesRecord[];
}

export interface AdapterContext<Options> {
  app: { name: string; jid: string };
  options: Options;
  log: Logger;
  /**
   * Path of fedgate's SQLite file. An adapter that keeps data of its own puts its own file next to
   * it (the built-in `store` uses `<name>-store.sqlite`): one writer lock per file, so its writes
   * never wait for the inbox's and outbox's.
   */
  databasePath: string;
  /**
   * Tell the core this app has new data, so that consumers scheduled "on change" extract it now. Name the
   * series that changed when known: only the consumers of those series run (a write then costs the same
   * however many consumers other series have); without them, every on-change consumer of the app runs.
   */
  dataChanged(series?: Iterable<string>): void;
  /**
   * Sends an IQ from the app's (bare) JID over fedgate's XMPP link, for adapters whose system is another
   * XMPP entity (the `quoalise` adapter). `payload` is the IQ's one child element, as XML text. Resolves
   * with the answer — the whole `<iq type="result">` or `<iq type="error">` as XML text, from exactly
   * `to` — or rejects when the link is offline or nothing came within `timeoutMs`. Absent outside the
   * gateway (CLI, unit tests).
   */
  sendIq?(to: string, type: 'get' | 'set', payload: string, timeoutMs: number): Promise<string>;
}

export interface Adapter {
  /** A chat message addressed to the app (a person or a bot talking to it). Return the reply text, or null for none. */
  chat?(message: ChatMessage): Promise<string | null>;
  /**
   * Quoalise `get_history`: the records of one series in the half-open range [start, end), oldest first,
   * as records or — the fast path for an adapter reading a database — as rows (`RowBlock`).
   */
  history?(query: HistoryQuery): Promise<Array<DataBlock | RowBlock>>;
  /**
   * Quoalise catalogue: the series this app offers (the core filters them by what the requester may read,
   * sorts and pages them). `shown`, when given, picks from all the identifiers those the answer will show
   * (a page): an adapter whose counts and time spans cost a read per series may give them for those only.
   */
  catalogue?(shown?: CatalogueShown): Promise<SeriesInfo[]>;
  /** Extract job: records after `cursor` for the series matching `series`, at most `limit`, in cursor order. */
  extract?(query: ExtractQuery): Promise<ExtractBatch>;
  /**
   * Receive job: apply messages sent to this app, in order. Must be idempotent on each `key`.
   * Batches are the fast path (one transaction for many messages); applying them one by one is fine.
   */
  deliver?(batch: readonly Delivery[]): Promise<void>;
  /**
   * The last Quoalise subscription to `series` on this app was ended: an adapter that subscribed
   * upstream for it (the `quoalise` adapter) ends that subscription too.
   */
  unsubscribed?(series: string): Promise<void>;
  close?(): Promise<void>;
}

export interface ForgetRequest {
  /**
   * A series identifier or a glob, or several (an erasure request's): the records of every series
   * matching any of them. An adapter handles a list in one pass where it can — the store scans its
   * points once for a whole request instead of once per glob.
   */
  series: string | readonly string[];
  /**
   * Which records of those series: `before` (epoch seconds) — those stamped earlier (a retention
   * period); `expired` (epoch seconds) — those whose carried retention (Delivery.retention) has passed
   * at that time; neither — all of them (an erasure).
   */
  before?: number;
  expired?: number;
  /**
   * Only the records received from this source (a bare JID: Delivery.from of the delivery that wrote
   * them) — an erasure that source asked for (GDPR Art. 19). An adapter that cannot tell where its
   * records came from must throw (an AdapterError saying so), never delete others' records.
   */
  from?: string;
  dryRun?: boolean;
  /**
   * Optional for the adapter: called after each part of the deletion its storage committed, with the
   * records that part deleted, so that the caller records them then — a forget cut short (kill -9)
   * leaves at most the part being committed unrecorded. An adapter that deletes in one go just returns
   * its count.
   */
  committed?(records: number): void;
}

export interface ChatMessage {
  /** Full JID of the sender. */
  from: string;
  body: string;
}

export interface HistoryQuery {
  /** A series identifier (RFC 9039 URN), already validated. */
  series: string;
  /** Epoch seconds, inclusive; absent means "from the beginning". */
  start?: number;
  /** Epoch seconds, exclusive; absent means "until now". */
  end?: number;
  /**
   * Return at most this many records. The core asks for one more than its `quoalise.max_records` and
   * refuses the request (too many records) when it gets exactly this many.
   */
  limit: number;
  /** Bare JID of the requester (already authorized), for adapters that keep per-user credentials. */
  requester: string;
}

/** From every identifier of the catalogue (any order), those the answer shows. */
export type CatalogueShown = (identifiers: string[]) => Set<string>;

export interface SeriesInfo {
  identifier: string;
  meta: Meta;
  /** Epoch seconds of the oldest and newest record, when known. */
  first?: number;
  last?: number;
  count?: number;
}

export interface ExtractQuery {
  /** A series identifier, or a glob (`*`, `?`) over identifiers. */
  series: string;
  /** Opaque position returned by the previous call; null on the first call. */
  cursor: string | null;
  /**
   * At most this many records. `limit: 0` (with `cursor: null`) asks where the data ends now: return no
   * records and the cursor of the current end — a Quoalise subscription starts there, so that only
   * records written after it are pushed.
   */
  limit: number;
}

export interface ExtractBatch {
  blocks: DataBlock[];
  /** Position after the last record returned; the next call receives it. */
  cursor: string | null;
  /** True when more records are ready right now (the core calls again without waiting). */
  more: boolean;
}

export interface Delivery {
  /** Stable idempotency key: the same message retried or re-received has the same key. */
  key: string;
  /** Bare JID of the sender, already checked against the consumers entitled to send to this app. */
  from: string;
  blocks: DataBlock[];
  /**
   * The sender's version of these records, when it gave one (fedgate senders do). Deliveries from the
   * same `origin` are ordered by `seq`: a record (series, time) already written by a delivery of the
   * same origin with a higher `seq` is newer and must not be overwritten by this one. Deliveries can
   * arrive out of order (a busy receiver refuses one and accepts the next), so an adapter that keeps
   * values keeps the newest this way; the built-in `store` does.
   */
  version?: { origin: string; seq: number };
  /**
   * How long the source lets these records be kept (urn:fedgate:gdpr:0), per series: each record until
   * its own time plus `maxAge` (an ISO 8601 period), and never after `until` (epoch seconds). An adapter
   * that keeps records must not keep them longer (`recordExpiry` in component/gdpr/retention.ts computes
   * it); the built-in `store` deletes them when they expire. Absent: the source sets no limit.
   */
  retention?: ReadonlyArray<{ series: string; maxAge?: string; until?: number }>;
}

/** Expected failures, mapped by the core to Quoalise / RFC 6120 errors. */
export type AdapterErrorKind =
  | 'not-found' //        → item-not-found: unknown series
  | 'bad-request' //      → bad-request: the request cannot be served as asked
  | 'rate-limited' //     → resource-constraint (wait)
  | 'upstream' //         → undefined-condition + <upstream-error issuer code>
  | 'rejected' //         → deliver only: the data can never be applied (dead letter, no retry)
  /**
   * → not-authorized: the application's system says the data subject's authorization behind this
   * request is gone for good (e.g. Enedis wiped it when the customer changed supplier). The core
   * marks the consents covering (app, series) invalidated, so that nothing more is asked or pushed
   * until the subject consents again. `upstream` carries the system's own code, for the record.
   */
  | 'consent-invalidated';

export class AdapterError extends Error {
  override name = 'AdapterError';
  constructor(
    readonly kind: AdapterErrorKind,
    message: string,
    /** For 'upstream': who failed (e.g. `enedis`) and its own error code. */
    readonly upstream?: { issuer: string; code: string },
  ) {
    super(message);
  }
}

export class OptionsError extends Error {
  override name = 'OptionsError';
  constructor(readonly key: string, message: string) {
    super(`option ${key}: ${message}`);
  }
}
