/**
 * `quoalise` — an application whose data lives at a remote Quoalise provider (another fedgate, or one of
 * the federation's existing providers), reached over fedgate's own XMPP link (adapter contract:
 * `sendIq`). get_history and list_series are forwarded to the provider with the app's JID as the
 * requester (the provider's grants decide what the app may read; ours decide who may read the app).
 *
 * Subscriptions: when someone subscribes to a series here, the app subscribes to it at the provider
 * (idempotent there too); the provider's pushes come to the app's JID, are accepted from the provider
 * without a consumer (contract: `senders`), stored in the inbox, applied exactly once into the app's
 * series in the store's file (adapters/store/), and pushed from there to our subscribers through the
 * outbox — so a push survives either gateway restarting. When the last subscriber of a series leaves
 * (contract: `unsubscribed`), the app unsubscribes at the provider, retrying while it is unreachable.
 *
 * A lying provider cannot leak: history answers keep only the records of the series asked for, and
 * everything it sends is checked like any data. Its errors become ours: item-not-found → not-found,
 * bad-request → bad-request, resource-constraint → rate-limited, anything else (including the server's
 * own `remote-server-not-found` while the provider is away) → upstream, with the provider's
 * `upstream-error` issuer and code when it gave one, else the provider's JID and the condition.
 */
import { z } from 'zod';
import { AdapterError, type AdapterModule, type SeriesInfo } from '../contract.js';
import { parseOptionsWith, millis } from '../common/options.js';
import { checkFromSystem, malformed } from '../common/records.js';
import { SeriesStore, StoreDataError } from '../store/series-store.js';
import { connectStore, forgetStoredRecords, readStoredRecords } from '../store/store.js';
import { xml, type Element } from '../../component/xmpp/xml.js';
import { bareJid, parseJid } from '../../component/xmpp/jid.js';
import { NS } from '../../component/xmpp/namespaces.js';
import { readError } from '../../component/xmpp/stanza-error.js';
import { NS_QUOALISE } from '../../component/quoalise/namespaces.js';
import { parseXml } from '../../component/quoalise/xml-parse.js';
import { decodeQuoalise } from '../../component/quoalise/payload.js';
import { decodeMeta } from '../../component/quoalise/meta.js';
import { formatIsoUtc, parseIsoWithOffset } from '../../component/quoalise/time.js';
import { QuoaliseFormatError } from '../../component/quoalise/errors.js';
import type { DataBlock } from '../../component/quoalise/types.js';

const QuoaliseSchema = z
  .object({
    /** The provider's JID: bare, or full as the federation's clients address it (`meters@example.org/proxy`). */
    provider: z.string().refine((j) => parseJid(j) !== null && !/\s/.test(j), 'must be a JID such as meters@energy.example.org'),
    /** How long to wait for the provider's answer. */
    timeout_ms: millis(100, 30_000),
    /**
     * Series the app keeps at most. The provider's pushes are stored whatever their series: past this,
     * a push bringing a new series is refused (a dead letter, with the reason), the known ones go on.
     */
    max_series: z.number().int().min(1).max(10_000_000).default(10_000),
  })
  .strict();

export type QuoaliseOptions = z.output<typeof QuoaliseSchema>;

/** Retry of an upstream unsubscribe that failed (the provider was away). */
const UNSUBSCRIBE_RETRY_MS = 30_000;

export const quoaliseAdapter: AdapterModule<QuoaliseOptions> = {
  kind: 'quoalise',
  description: 'serves the data of a remote Quoalise provider (another fedgate or an existing provider): history, catalogue, relayed pushes',
  parseOptions: (raw) => parseOptionsWith('quoalise', QuoaliseSchema, raw),
  // The provider's pushes: relayed to our subscribers.
  acceptsData: () => true,
  senders: (o) => [bareJid(o.provider)],
  // The relayed pushes live in the store's tables: purged and erased like a store app's.
  forget: forgetStoredRecords,
  read: readStoredRecords,
  create({ app, options: o, databasePath, dataChanged, sendIq, log }) {
    if (!sendIq) throw new Error('the quoalise adapter needs the gateway\'s XMPP link');
    const provider = o.provider;
    // The thread's shared connection to the store's file (checkpoints left to the gateway's checkpoint worker).
    const { db, release } = connectStore(databasePath);
    const store = new SeriesStore(db, app.name);
    const leaving = new Set<string>();
    // The app's series: those stored already, and each new one up to max_series.
    const known = new Set(db.prepare('SELECT identifier FROM store_series WHERE app = ?').pluck().all(app.name) as string[]);

    async function run(node: string, fields: Record<string, string>): Promise<Element> {
      const form = xml('x', { xmlns: NS.dataForms, type: 'submit' }, ...Object.entries(fields).map(([k, v]) => xml('field', { var: k }, xml('value', {}, v))));
      let answer: Element;
      try {
        answer = parseXml(await sendIq!(provider, 'set', xml('command', { xmlns: NS.commands, node, action: 'execute' }, form).toString(), o.timeout_ms));
      } catch (err) {
        const timeout = /within/.test((err as Error).message);
        throw new AdapterError('upstream', `${provider} did not answer ${node}: ${(err as Error).message}`, { issuer: provider, code: timeout ? 'timeout' : 'unreachable' });
      }
      if (answer.attrs.type === 'error') throw remoteError(answer, provider, node);
      const command = answer.getChild('command', NS.commands);
      if (!command) throw malformed(provider, `the answer to ${node} has no command element`);
      return command;
    }

    async function subscribeUpstream(series: string): Promise<void> {
      leaving.delete(series);
      await run('subscribe', { identifier: series });
    }

    async function unsubscribeUpstream(): Promise<void> {
      for (const series of [...leaving]) {
        try {
          await run('unsubscribe', { identifier: series });
          leaving.delete(series);
        } catch (err) {
          log.warn({ series, err: (err as Error).message, retryInMs: UNSUBSCRIBE_RETRY_MS }, `could not unsubscribe at ${provider}; retrying`);
        }
      }
    }
    const retry = setInterval(() => {
      if (leaving.size > 0) void unsubscribeUpstream();
    }, UNSUBSCRIBE_RETRY_MS);
    retry.unref();

    return {
      async history(q) {
        const command = await run('get_history', {
          identifier: q.series,
          ...(q.start !== undefined && { start_time: formatIsoUtc(q.start) }),
          ...(q.end !== undefined && { end_time: formatIsoUtc(q.end) }),
        });
        const quoalise = command.getChild('quoalise', NS_QUOALISE);
        if (!quoalise) throw malformed(provider, 'the get_history answer carries no quoalise element');
        let blocks: DataBlock[];
        try {
          blocks = decodeQuoalise(quoalise);
        } catch (err) {
          if (err instanceof QuoaliseFormatError) throw malformed(provider, err.message);
          throw err;
        }
        // Only the series and the range asked for: a provider cannot slip other series, or records the
        // requester did not ask for, into our answer.
        const inRange = (t: number) => (q.start === undefined || t >= q.start) && (q.end === undefined || t < q.end);
        const kept = blocks.map((b) => ({ meta: b.meta, records: b.records.filter((r) => r.name === q.series && inRange(r.time)).sort((x, y) => x.time - y.time) }));
        return checkFromSystem(kept, provider);
      },

      async catalogue() {
        let command: Element;
        try {
          command = await run('list_series', {});
        } catch (err) {
          // The federation's existing providers have no catalogue: an empty one, not an error.
          if (err instanceof AdapterError && err.kind === 'not-found') return [];
          throw err;
        }
        const series = command.getChild('quoalise', NS_QUOALISE)?.getChildren('series') ?? [];
        return series.map((s, i): SeriesInfo => {
          try {
            const info: SeriesInfo = { identifier: s.attrs.identifier ?? '', meta: s.getChild('meta', NS_QUOALISE) ? decodeMeta(s.getChild('meta', NS_QUOALISE)!) : {} };
            if (s.attrs.first) info.first = parseIsoWithOffset(s.attrs.first);
            if (s.attrs.last) info.last = parseIsoWithOffset(s.attrs.last);
            if (s.attrs.count !== undefined && /^\d+$/.test(s.attrs.count)) info.count = Number(s.attrs.count);
            checkFromSystem([{ meta: info.meta, records: [{ name: info.identifier, time: 0, value: 0 }] }], provider);
            return info;
          } catch (err) {
            if (err instanceof AdapterError) throw err;
            throw malformed(provider, `list_series entry ${i}: ${(err as Error).message}`);
          }
        });
      },

      async extract({ series, cursor, limit }) {
        // Where a new subscription starts: subscribe upstream first, so that nothing pushed after it is missed.
        if (limit === 0 && cursor === null && !series.includes('*') && !series.includes('?')) await subscribeUpstream(series);
        return store.extract(series, cursor, limit);
      },

      async deliver(batch) {
        const fresh = new Set(batch.flatMap((d) => d.blocks.flatMap((b) => b.records.map((r) => r.name))).filter((n) => !known.has(n)));
        if (fresh.size > 0 && known.size + fresh.size > o.max_series) {
          // Checked for the batch: one call is one transaction, and the receive job retries its messages one by one.
          const first = [...fresh][0]!;
          throw new AdapterError('rejected', `${fresh.size} new series (${first.slice(0, 200)}${fresh.size > 1 ? ', …' : ''}) beyond max_series (${o.max_series}): not stored`);
        }
        try {
          const results = store.deliver(batch);
          for (const n of fresh) known.add(n);
          if (results.every((r) => r.written === 0)) return;
        } catch (err) {
          if (err instanceof StoreDataError) throw new AdapterError('rejected', err.message);
          throw err;
        }
        dataChanged();
      },

      async unsubscribed(series) {
        // Not awaited: a provider that hangs must not keep our subscriber from leaving (the call would
        // time out and the subscription stay). The `leaving` set retries until the provider answers.
        leaving.add(series);
        void unsubscribeUpstream();
      },

      async close() {
        clearInterval(retry);
        release();
      },
    };
  },
};

function remoteError(answer: Element, provider: string, node: string): AdapterError {
  const { condition, text } = readError(answer);
  const message = `${provider} refused ${node}: ${condition}${text ? ` (${text})` : ''}`;
  switch (condition) {
    case 'item-not-found':
    case 'feature-not-implemented':
      return new AdapterError('not-found', message);
    case 'bad-request':
      return new AdapterError('bad-request', message);
    case 'resource-constraint':
      return new AdapterError('rate-limited', message);
    default: {
      const up = answer.getChild('error')?.getChild('upstream-error', NS_QUOALISE);
      return new AdapterError('upstream', message, { issuer: up?.attrs.issuer ?? provider, code: up?.attrs.code ?? condition });
    }
  }
}
