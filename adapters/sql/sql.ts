/**
 * `sql` — an application whose data lives in a PostgreSQL database (through `pg`): a legacy system's
 * own tables with the queries written by the operator (adapters/sql/queries.ts), or Zabbix's history
 * with `preset: zabbix` (adapters/sql/zabbix.ts). Serves get_history, the catalogue and subscriptions
 * (extract, with new data noticed by polling where the data ends every `poll_ms`), and with a
 * `deliver_query` stores what other applications send.
 *
 * Connecting: every statement is time-limited (`statement_timeout_ms`, server- and client-side), so is
 * connecting (`connect_timeout_ms`); connections are opened on demand, so after a database restart the
 * next query reconnects, and the change poller retries with exponential backoff meanwhile. The password
 * comes from `password_file` or `password_env`, never from the options themselves.
 */
import { z } from 'zod';
import { OptionsError, type AdapterModule } from '../contract.js';
import { parseOptionsWith, absolutePath, envName, millis } from '../common/options.js';
import { readSecret } from '../common/secrets.js';
import { ChangePoller } from '../common/change-poller.js';
import { zabbixAdapter } from './zabbix.js';
import { queriesAdapter } from './queries.js';

const connection = {
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65535).default(5432),
  database: z.string().min(1),
  user: z.string().min(1),
  password_file: absolutePath.optional(),
  password_env: envName.optional(),
  /** TLS to the server, verifying its certificate against the system's authorities. */
  ssl: z.boolean().default(false),
  connect_timeout_ms: millis(100, 5000),
  statement_timeout_ms: millis(100, 15_000),
  /** How often the adapter looks for new data (subscriptions, on-change consumers). */
  poll_ms: millis(50, 1000),
  max_connections: z.number().int().min(1).max(100).default(4),
  /** Most rows one statement may return (a query without a LIMIT must not end the app's thread out of memory). */
  max_rows: z.number().int().min(1).max(10_000_000).default(500_000),
};

const sqlText = z.string().trim().min(1, 'must be an SQL statement');

const QueriesSchema = z
  .object({
    ...connection,
    preset: z.undefined(),
    history_query: sqlText.optional(),
    catalogue_query: sqlText.optional(),
    extract_query: sqlText.optional(),
    end_query: sqlText.optional(),
    deliver_query: sqlText.optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.extract_query && !o.end_query) ctx.addIssue({ code: 'custom', path: ['end_query'], message: 'is needed with extract_query (where a new subscription starts)' });
    if (o.end_query && !o.extract_query) ctx.addIssue({ code: 'custom', path: ['extract_query'], message: 'is needed with end_query' });
    if (!o.history_query && !o.catalogue_query && !o.extract_query && !o.deliver_query) {
      ctx.addIssue({ code: 'custom', path: ['history_query'], message: 'give at least one of history_query, catalogue_query, extract_query, deliver_query (or preset: zabbix)' });
    }
  });

const ZabbixSchema = z
  .object({
    ...connection,
    preset: z.literal('zabbix'),
    identifier: z
      .string()
      .refine((s) => s.split('{itemid}').length === 2, 'must contain {itemid} once, e.g. urn:dev:org:60060-lyon:{itemid}')
      .refine((s) => s.startsWith('urn:'), 'must be a URN, e.g. urn:dev:org:60060-lyon:{itemid}'),
    items: z.array(z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).transform(String)).default([]),
    hosts: z.array(z.string().min(1)).default([]),
    keys: z.array(z.string().min(1)).default([]),
    settle_seconds: z.number().min(0).default(0),
  })
  .strict()
  .refine((o) => o.items.length + o.hosts.length + o.keys.length > 0, { path: ['items'], message: 'select items: give items (ids), or hosts and/or keys' });

export type SqlOptions = z.output<typeof QueriesSchema> | z.output<typeof ZabbixSchema>;

export const sqlAdapter: AdapterModule<SqlOptions> = {
  kind: 'sql',
  description: 'reads (and optionally writes) series in a PostgreSQL database: your own queries, or Zabbix history (preset zabbix)',
  parseOptions(raw) {
    if (raw.preset !== undefined && raw.preset !== 'zabbix') throw new OptionsError('preset', 'unknown preset (sql knows: zabbix)');
    return raw.preset === 'zabbix' ? parseOptionsWith('sql', ZabbixSchema, raw) : parseOptionsWith('sql', QueriesSchema, raw);
  },
  acceptsData: (o) => o.preset !== 'zabbix' && o.deliver_query !== undefined,
  async create({ options: o, log, dataChanged }) {
    // `pg` is loaded here, in the app's worker: the CLI and the XMPP thread, which load every kind, never pay for it.
    const { Connection } = await import('./connection.js');
    const db = new Connection(
      {
        host: o.host,
        port: o.port,
        database: o.database,
        user: o.user,
        password: readSecret('password', { file: o.password_file, env: o.password_env }),
        ssl: o.ssl,
        connectTimeoutMs: o.connect_timeout_ms,
        statementTimeoutMs: o.statement_timeout_ms,
        maxConnections: o.max_connections,
        maxRows: o.max_rows,
      },
      log,
    );
    let poller: ChangePoller | null = null;
    const stop = () => poller?.stop();
    const adapter =
      o.preset === 'zabbix'
        ? zabbixAdapter(db, { identifier: o.identifier, items: o.items, hosts: o.hosts, keys: o.keys, settleSeconds: o.settle_seconds }, stop)
        : queriesAdapter(db, o, stop);
    if (adapter.probe) {
      poller = new ChangePoller({ probe: adapter.probe, onChange: dataChanged, everyMs: o.poll_ms, maxBackoffMs: 30_000, log, what: `PostgreSQL ${db.name}` });
      poller.start();
    }
    return adapter;
  },
};
