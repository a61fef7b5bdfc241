/**
 * The PostgreSQL side of the `sql` adapter: a small `pg` pool with time limits on connecting and on
 * every statement, numbers parsed as numbers, and every failure turned into the contract's
 * `AdapterError('upstream')` naming the server and PostgreSQL's own error code (SQLSTATE). The pool
 * opens connections on demand, so after a restart of the database the next query simply reconnects.
 * A statement keeps at most `maxRows` rows (bounded-query.ts): an operator's query without a LIMIT
 * must fail alone, not end the app's thread out of memory.
 */
import pg from 'pg';
import { AdapterError } from '../contract.js';
import type { Logger } from '../../component/log/logger.js';
import { BoundedQuery, TooManyRowsError } from './bounded-query.js';

export interface ConnectionOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string | undefined;
  ssl: boolean;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  maxConnections: number;
  /** Most rows one statement may return; past it the call fails `upstream` / `too-many-rows`. */
  maxRows: number;
}

// NUMERIC (Zabbix's history_uint.value, SUM(), AVG()) and INT8 (count(*), bigint columns) as JS numbers rather
// than strings (pg's defaults: exact, but then a value was served as a SenML string and a catalogue's count
// dropped); FLOAT8 is already one. Beyond 2^53 an INT8 loses precision, as a SenML number would anyway.
const NUMERIC = 1700;
const INT8 = 20;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if ((oid === NUMERIC || oid === INT8) && format !== 'binary') return (s: string) => Number(s);
    return pg.types.getTypeParser(oid, format);
  },
};

export class Connection {
  readonly pool: pg.Pool;
  /** host:port/database: the issuer of upstream errors, and what the logs name. */
  readonly name: string;
  private readonly maxRows: number;

  constructor(o: ConnectionOptions, log: Logger) {
    this.maxRows = o.maxRows;
    this.name = `${o.host}:${o.port}/${o.database}`;
    this.pool = new pg.Pool({
      host: o.host,
      port: o.port,
      database: o.database,
      user: o.user,
      password: o.password,
      ssl: o.ssl ? { rejectUnauthorized: true } : false,
      max: o.maxConnections,
      connectionTimeoutMillis: o.connectTimeoutMs,
      // Server side (the statement is cancelled) and client side (a server that stopped answering).
      statement_timeout: o.statementTimeoutMs,
      query_timeout: o.statementTimeoutMs + 1000,
      idleTimeoutMillis: 30_000,
      application_name: 'fedgate',
      types,
    });
    // An idle connection cut by a server restart emits here; without a listener it would crash the worker.
    this.pool.on('error', (err) => log.warn({ err: err.message, database: this.name }, 'idle PostgreSQL connection lost'));
  }

  /** Runs one statement; rows as objects. */
  async rows<T>(text: string, values: unknown[] = []): Promise<T[]> {
    try {
      return (await this.bounded({ text, values })).rows as T[];
    } catch (err) {
      throw this.upstream(err);
    }
  }

  /** Runs one statement; rows as arrays (no object per row: the fast path for large answers). */
  async arrays<T extends unknown[]>(text: string, values: unknown[] = []): Promise<T[]> {
    try {
      return (await this.bounded({ text, values, rowMode: 'array' })).rows as T[];
    } catch (err) {
      throw this.upstream(err);
    }
  }

  /** pg-pool runs a query object as it runs a text, answering a promise of its result (@types/pg types it as the object). */
  private bounded(config: pg.QueryConfig | pg.QueryArrayConfig): Promise<pg.QueryResult> {
    return this.pool.query(new BoundedQuery(config, this.maxRows)) as unknown as Promise<pg.QueryResult>;
  }

  /** Runs `fn` in one transaction (BEGIN … COMMIT, ROLLBACK on any error). */
  async transaction(fn: (query: (text: string, values: unknown[]) => Promise<void>) => Promise<void>): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.upstream(err);
    }
    try {
      await client.query('BEGIN');
      await fn(async (text, values) => void (await client.query({ text, values })));
      await client.query('COMMIT');
      client.release();
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      client.release(true);
      throw err instanceof AdapterError ? err : this.upstream(err);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** A failure of the database as the contract's upstream error: PostgreSQL's SQLSTATE or the socket's error code. */
  upstream(err: unknown): AdapterError {
    if (err instanceof AdapterError) return err;
    if (err instanceof TooManyRowsError) {
      return new AdapterError('upstream', `PostgreSQL ${this.name}: ${err.message}`, { issuer: this.name, code: 'too-many-rows' });
    }
    const e = err as { code?: string; message?: string };
    const code = e.code ?? (/timeout/i.test(e.message ?? '') ? 'timeout' : 'error');
    return new AdapterError('upstream', `PostgreSQL ${this.name}: ${e.message ?? String(err)}`, { issuer: this.name, code });
  }
}
