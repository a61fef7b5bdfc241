/**
 * `mqtt` — meters and IoT devices publishing to an MQTT broker (3.1.1 or 5, through MQTT.js). The app
 * subscribes to topic filters, decodes each payload (adapters/mqtt/payloads.ts), and keeps the records in
 * the `store`'s file and tables (adapters/store/): get_history, list_series and subscriptions work exactly
 * as for a `store` app, and a subscriber gets a new reading pushed within milliseconds (the write tells
 * the core at once). Data sent to the app is published to topics, QoS 1.
 *
 * Nothing lost: the session is persistent (`clean: false`, a stable client id) and subscriptions are
 * QoS 1, so the broker keeps what is published while fedgate is away; each message is acknowledged
 * (PUBACK) only after its record is committed to SQLite, so a crash before the commit means the broker
 * sends it again. The messages of one read from the socket share one transaction (group commit): their
 * PUBACKs are held back until it commits (see `holdAcks`). A malformed payload is acknowledged (sending it again would not mend it), never stored,
 * counted per filter in `mqtt_malformed` (schema/store/020_mqtt.sql) and logged (at most one line per
 * filter every 10 s). Reconnection to the broker backs off exponentially with jitter.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { IClientOptions, MqttClient } from 'mqtt';
import { AdapterError, type AdapterModule, type Delivery } from '../contract.js';
import { parseOptionsWith, absolutePath, envName, millis } from '../common/options.js';
import { readSecret } from '../common/secrets.js';
import { SeriesStore, StoreDataError, checkBlocks } from '../store/series-store.js';
import { connectStore, forgetStoredRecords, readStoredRecords, seriesCapabilities } from '../store/store.js';
import { Backoff } from '../../component/timing/backoff.js';
import type { DataBlock, Meta, SeriesRecord } from '../../component/quoalise/types.js';
import { matchTopic, validFilter, wildcardCount } from './topics.js';
import { fillTemplate, placeholders } from '../common/template.js';
import { redactUrl } from '../common/urls.js';
import { MalformedCounter } from './malformed.js';
import { MAX_UNIT_LENGTH } from '../../component/quoalise/senml.js';
import { MAX_LEARNT_TOPIC, decodeHomeAssistant, decodeHomie, decodeJson, decodeNumber, haDiscovery, type DecodeResult, type HaEntity } from './payloads.js';

const metaSchema: z.ZodType<Meta> = z.lazy(() => z.record(z.union([z.string(), metaSchema])));

const SubscriptionSchema = z
  .object({
    /** Topic filter, `+` and `#` allowed. */
    topic: z.string().refine(validFilter, 'must be an MQTT topic filter (+ for one level, # last for the rest)'),
    /** Series identifier of a message, `{1}`, `{2}`… being what the filter's wildcards matched. */
    identifier: z.string().min(1),
    format: z.enum(['number', 'json', 'homie', 'homeassistant']).default('number'),
    value_field: z.string().min(1).default('value'),
    time_field: z.string().min(1).optional(),
    unit_field: z.string().min(1).optional(),
    /** Unit of the records when the payload does not say. */
    unit: z.string().min(1).optional(),
    /** Quoalise metadata of the series (current generation). */
    meta: metaSchema.default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    const max = wildcardCount(s.topic);
    for (const p of placeholders(s.identifier)) {
      if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > max) {
        ctx.addIssue({ code: 'custom', path: ['identifier'], message: `{${p}} is not a wildcard of ${s.topic} (it has ${max}: {1}…)` });
      }
    }
  });

const MqttSchema = z
  .object({
    /** Broker: mqtt://host:port or mqtts://host:port (TLS). */
    url: z.string().regex(/^mqtts?:\/\/[^/]+$/, 'must be mqtt://host:port or mqtts://host:port'),
    protocol_version: z.union([z.literal(4), z.literal(5)]).default(4),
    client_id: z.string().min(1).max(64).optional(),
    username: z.string().min(1).optional(),
    password_file: absolutePath.optional(),
    password_env: envName.optional(),
    /** TLS: the authority that signed the broker's certificate; a client certificate and key. */
    ca_file: absolutePath.optional(),
    cert_file: absolutePath.optional(),
    key_file: absolutePath.optional(),
    keepalive_seconds: z.number().int().min(5).max(3600).default(30),
    connect_timeout_ms: millis(100, 10_000),
    reconnect_initial_ms: millis(10, 200),
    reconnect_max_ms: millis(100, 30_000),
    subscriptions: z.array(SubscriptionSchema).default([]),
    /** Home Assistant's discovery prefix (for format homeassistant). */
    discovery_prefix: z.string().min(1).default('homeassistant'),
    /** Deliveries: topic of each record, with {identifier}, {device} (before `_`), {path} (after `_`). */
    publish_topic: z
      .string()
      .refine((t) => !/[+#]/.test(t), 'a publish topic has no wildcards')
      .refine((t) => placeholders(t).every((p) => ['identifier', 'device', 'path'].includes(p)), 'knows only {identifier}, {device} and {path}')
      .optional(),
    /** `json`: {"key","from","name","time","value","unit"}; `value`: the bare value as text. */
    publish_format: z.enum(['json', 'value']).default('json'),
    publish_retain: z.boolean().default(false),
    /**
     * Series the app keeps at most. Anyone who may publish under a wildcard filter makes a series per
     * topic: past this, a message for a new series is refused like a malformed one (counted, logged).
     */
    max_series: z.number().int().min(1).max(10_000_000).default(10_000),
  })
  .strict()
  .refine((o) => !(o.cert_file && !o.key_file) && !(o.key_file && !o.cert_file), { path: ['key_file'], message: 'cert_file and key_file go together' })
  .refine((o) => o.subscriptions.length > 0 || o.publish_topic !== undefined, { path: ['subscriptions'], message: 'give subscriptions (to read) and/or publish_topic (to write)' });

export type MqttOptions = z.output<typeof MqttSchema>;
type Subscription = MqttOptions['subscriptions'][number];

/**
 * New data is told to the core at once, then at most once per this many ms while messages keep coming:
 * a reading alone is pushed without delay, a stream of them in pushes of several records.
 */
const CHANGE_COALESCE_MS = 20;

/** `fn` now if it did not run in the last `ms`, else once when they have passed. */
function coalesce(fn: (series: Iterable<string>) => void, ms: number): (series: Iterable<string>) => void {
  let last = 0;
  let timer: NodeJS.Timeout | null = null;
  // The series written since the last call: only their consumers run.
  let pending = new Set<string>();
  const fire = () => {
    last = Date.now();
    const series = pending;
    pending = new Set();
    fn(series);
  };
  return (series) => {
    for (const s of series) pending.add(s);
    const wait = last + ms - Date.now();
    if (wait <= 0) fire();
    else {
      timer ??= setTimeout(() => {
        timer = null;
        fire();
      }, wait);
    }
  };
}

/** Units learnt from Home Assistant discovery or Homie attributes: bounded, whoever publishes them. */
const MAX_LEARNT = 10_000;


export const mqttAdapter: AdapterModule<MqttOptions> = {
  kind: 'mqtt',
  description: 'meters and devices on an MQTT broker: subscribed topics kept as series (history, catalogue, live pushes), deliveries published QoS 1',
  parseOptions: (raw) => parseOptionsWith('mqtt', MqttSchema, raw),
  acceptsData: (o) => o.publish_topic !== undefined,
  // Its calls never block its thread (the broker is spoken to asynchronously; records go to the store's
  // file like a store app's): its apps share the worker pool. An app can still ask for a thread of its own.
  isolation: 'shared',
  // Its records live in the store's tables: purged and erased like a store app's.
  forget: forgetStoredRecords,
  read: readStoredRecords,
  async create({ app, options: o, log, databasePath, dataChanged }) {
    // Loaded here, in the app's worker: the CLI and the XMPP thread, which load every kind, never pay for it.
    const { default: mqtt } = await import('mqtt');
    // The store file's connection of the thread (shared with its other store and mqtt apps).
    const { db, release } = connectStore(databasePath);
    const store = new SeriesStore(db, app.name);
    const malformed = new MalformedCounter(db, app.name, log);
    const ha = new Map<string, HaEntity>();
    const clock = new ReceptionClock();
    const homieUnits = new Map<string, string>();
    // The app's series: those stored already, and each new one up to max_series.
    const known = new Set(db.prepare('SELECT identifier FROM store_series WHERE app = ?').pluck().all(app.name) as string[]);
    const haConfig = [`${o.discovery_prefix}/+/+/config`, `${o.discovery_prefix}/+/+/+/config`];
    const wantsHa = o.subscriptions.some((s) => s.format === 'homeassistant');

    const client = mqtt.connect(o.url, clientOptions(app.name, o));
    // The broker as logs, error texts and issuers show it: never a query (it may carry a token).
    const broker = redactUrl(o.url);
    const backoff = new Backoff({ initialMs: o.reconnect_initial_ms, maxMs: o.reconnect_max_ms });
    // Runs before MQTT.js's own 'close' handler schedules the next attempt: that attempt waits this long.
    client.prependListener('close', () => {
      client.options.reconnectPeriod = backoff.next();
    });
    let wasOffline = false;
    client.on('connect', () => {
      backoff.reset();
      if (wasOffline) log.info({ broker }, 'MQTT broker reachable again');
      wasOffline = false;
      // Subscribed at every connection: a resumed session already has them (harmless), a new one needs them.
      const filters: Record<string, { qos: 1 }> = {};
      for (const s of o.subscriptions) {
        filters[s.topic] = { qos: 1 };
        if (s.format === 'homie') filters[`${s.topic}/$unit`] = { qos: 1 };
      }
      if (wantsHa) for (const f of haConfig) filters[f] = { qos: 1 };
      if (Object.keys(filters).length === 0) return;
      client.subscribe(filters, (err) => {
        if (err) log.error({ err: err.message }, 'MQTT subscribe failed');
      });
    });
    client.on('offline', () => {
      if (!wasOffline) log.warn({ broker }, 'MQTT broker unreachable; reconnecting with backoff');
      wasOffline = true;
    });
    client.on('error', (err) => log.warn({ err: err.message, broker }, 'MQTT error'));

    // Called by MQTT.js for each message, one at a time. The record joins the batch; its PUBACK, which
    // MQTT.js sends on `done`, is held back until the batch is committed.
    const acks = holdAcks(client);
    const changed = coalesce(dataChanged, CHANGE_COALESCE_MS);
    let batch: DataBlock[] = [];
    let flushScheduled = false;
    client.handleMessage = (packet, done) => {
      let block: DataBlock | null = null;
      try {
        block = onMessage(packet.topic, packet.payload as Buffer, packet.retain === true);
      } catch (err) {
        // Never into MQTT.js's stream: an exception there would end the thread, and every app on it.
        log.error({ err: (err as Error).message, topic: packet.topic.slice(0, 200) }, 'MQTT message could not be handled; skipped');
      }
      if (block) batch.push(block);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
      done();
    };

    function flush(): void {
      flushScheduled = false;
      const blocks = batch;
      batch = [];
      try {
        // First: once a reading sent after bad ones is stored, the bad ones are counted.
        malformed.write();
        if (blocks.length > 0) {
          const written = store.ingest(blocks).changed;
          if (written.length > 0) changed(written);
        }
        acks.release();
      } catch (err) {
        // Not committed: no PUBACK; the broker sends these messages again after the reconnect.
        log.error({ err: (err as Error).message, messages: blocks.length }, 'could not store MQTT messages; reconnecting so that the broker sends them again');
        acks.drop();
        client.stream.destroy();
      }
    }

    /** One message → a block of one record (checked), or null when it carries none for the store. */
    function onMessage(topic: string, payload: Buffer, retained: boolean): DataBlock | null {
      if (wantsHa && haConfig.some((f) => matchTopic(f, topic))) {
        const d = haDiscovery(payload);
        if (d && (ha.has(d.stateTopic) || ha.size < MAX_LEARNT)) ha.set(d.stateTopic, d.entity);
        return null;
      }
      if (topic.endsWith('/$unit')) {
        const property = topic.slice(0, -'/$unit'.length);
        if (o.subscriptions.some((s) => s.format === 'homie' && matchTopic(s.topic, property))) {
          if (property.length <= MAX_LEARNT_TOPIC && (homieUnits.has(property) || homieUnits.size < MAX_LEARNT)) homieUnits.set(property, payload.toString('utf8').slice(0, MAX_UNIT_LENGTH));
          return null;
        }
      }
      const received = clock.now();
      for (const s of o.subscriptions) {
        const captures = matchTopic(s.topic, topic);
        if (!captures) continue;
        const r = decode(s, topic, payload);
        if (!r.ok) return malformed.count(s.topic, topic, r.reason), null;
        // A retained value is the broker's memory, sent again at every (re)subscription: without a time of
        // its own it would be stored as a new reading at each reconnect, dated now. Only live values count.
        if (retained && r.decoded.time === undefined) return null;
        const name = fillTemplate(s.identifier, Object.fromEntries(captures.map((c, i) => [String(i + 1), c])));
        if (!known.has(name) && known.size >= o.max_series) {
          return malformed.count(s.topic, topic, `a new series (${name.slice(0, 200)}) beyond max_series (${o.max_series}): not stored`), null;
        }
        const unit = r.decoded.unit ?? s.unit;
        const block: DataBlock = { meta: s.meta, records: [{ name, time: r.decoded.time ?? received, ...valueOf(r.decoded.value), ...(unit ? { unit } : {}) }] };
        try {
          checkBlocks([block]);
        } catch (err) {
          if (err instanceof StoreDataError) return malformed.count(s.topic, topic, err.message), null;
          throw err;
        }
        known.add(name);
        return block;
      }
      return null;
    }

    function decode(s: Subscription, topic: string, payload: Buffer): DecodeResult {
      switch (s.format) {
        case 'number':
          return decodeNumber(payload);
        case 'json':
          return decodeJson(payload, s);
        case 'homie':
          return decodeHomie(payload, homieUnits.get(topic));
        case 'homeassistant':
          return decodeHomeAssistant(payload, ha.get(topic));
      }
    }

    async function publish(d: Delivery): Promise<void> {
      if (!client.connected) throw new AdapterError('upstream', `MQTT broker ${broker} is not connected`, { issuer: broker, code: 'disconnected' });
      const sends: Promise<unknown>[] = [];
      for (const b of d.blocks) {
        for (const r of b.records) {
          const sep = r.name.indexOf('_');
          const topic = fillTemplate(o.publish_topic!, { identifier: r.name, device: sep < 0 ? r.name : r.name.slice(0, sep), path: sep < 0 ? '' : r.name.slice(sep + 1) });
          if (/[+#]/.test(topic)) throw new AdapterError('rejected', `series ${r.name} gives the topic ${topic}, which has MQTT wildcards`);
          const value = r.value ?? r.stringValue ?? r.boolValue;
          const body = o.publish_format === 'value' ? String(value) : JSON.stringify({ key: d.key, from: d.from, name: r.name, time: r.time, value, ...(r.unit ? { unit: r.unit } : {}) });
          sends.push(client.publishAsync(topic, body, { qos: 1, retain: o.publish_retain }));
        }
      }
      try {
        await Promise.all(sends);
      } catch (err) {
        throw new AdapterError('upstream', `publishing to ${broker} failed: ${(err as Error).message}`, { issuer: broker, code: 'publish-failed' });
      }
    }

    return {
      ...(o.subscriptions.length > 0 ? seriesCapabilities(store, app.jid) : {}),
      ...(o.publish_topic !== undefined && {
        async deliver(batch: readonly Delivery[]) {
          // In order, each message's records acknowledged by the broker (QoS 1) before the next.
          for (const d of batch) await publish(d);
        },
      }),
      async close() {
        flush();
        await client.endAsync().catch(() => {});
        release();
      },
    };
  },
};

function valueOf(v: number | string | boolean): Pick<SeriesRecord, 'value' | 'stringValue' | 'boolValue'> {
  return typeof v === 'number' ? { value: v } : typeof v === 'boolean' ? { boolValue: v } : { stringValue: v };
}

function clientOptions(app: string, o: MqttOptions): IClientOptions {
  const password = readSecret('password', { file: o.password_file, env: o.password_env });
  const read = (key: string, path: string | undefined) => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new AdapterError('upstream', `option ${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
    }
  };
  return {
    protocolVersion: o.protocol_version,
    clientId: o.client_id ?? `fedgate-${app}`,
    // A persistent session: the broker keeps QoS 1 messages for us while we are away.
    clean: false,
    ...(o.protocol_version === 5 ? { properties: { sessionExpiryInterval: 7 * 86_400 } } : {}),
    ...(o.username ? { username: o.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ca: read('ca_file', o.ca_file),
    cert: read('cert_file', o.cert_file),
    key: read('key_file', o.key_file),
    rejectUnauthorized: true,
    keepalive: o.keepalive_seconds,
    connectTimeout: o.connect_timeout_ms,
    reconnectPeriod: o.reconnect_initial_ms,
    // Deliveries are only published while connected (see publish): nothing is queued in memory.
    queueQoSZero: false,
  };
}

/**
 * Holds back the PUBACKs MQTT.js sends after `handleMessage`'s callback, until `release` (the batch is
 * committed) or `drop` (it was not: the broker will send those messages again). MQTT.js hands over one
 * message at a time and acknowledges each when its callback is called; holding the acknowledgement
 * instead of the callback lets the messages of one socket read share a transaction. This wraps the
 * client's internal `_sendPacket` (MQTT.js 5.x, pinned in package.json; the app refuses to start if it
 * is gone).
 */
function holdAcks(client: MqttClient): { release(): void; drop(): void } {
  const internal = client as unknown as { _sendPacket?(packet: { cmd: string }, cb?: (err?: Error) => void, ...rest: unknown[]): void };
  if (typeof internal._sendPacket !== 'function') throw new Error('this MQTT.js has no _sendPacket: PUBACKs cannot wait for the commit (see adapters/mqtt/mqtt.ts)');
  const send = internal._sendPacket.bind(client);
  let held: Array<{ cmd: string }> = [];
  internal._sendPacket = (packet, cb, ...rest) => {
    if (packet.cmd !== 'puback') return send(packet, cb, ...rest);
    held.push(packet);
    cb?.();
  };
  // A connection lost with acknowledgements held: the broker sends those messages again (harmless: the
  // same record again changes nothing in the store).
  client.on('close', () => (held = []));
  return {
    release() {
      const out = held;
      held = [];
      for (const p of out) send(p);
    },
    drop() {
      held = [];
    },
  };
}

/**
 * The time of a payload that carries none: when it was received, to the microsecond and strictly
 * increasing, so that a burst (the broker handing over what it kept during an outage) gives distinct
 * records rather than corrections of one another (the store keys records by series and time).
 */
class ReceptionClock {
  private last = 0;
  now(): number {
    const t = (performance.timeOrigin + performance.now()) / 1000;
    this.last = t > this.last ? t : this.last + 1e-6;
    return this.last;
  }
}
