/**
 * `http` — an application whose history is behind a JSON REST API (the citizens' app of the 2019 proof
 * of concept, Enedis Data Connect with `preset: dataconnect`). Pull only: it serves get_history and the
 * catalogue by calling the API — URL templates per series and range, ranges split to what the API serves
 * per call, the answer mapped to records (adapters/http/mapping.ts) — with a bearer token or an OAuth2
 * client-credentials token (cached, refreshed before expiry and after a 401). Failures are mapped by
 * adapters/http/client.ts (429 + Retry-After → rate-limited, and so on); secrets come from files or the
 * environment only.
 *
 * URL placeholders (values URL-encoded): {identifier}; {start} / {end} (ISO 8601 UTC); {start_epoch} /
 * {end_epoch} (seconds); {start_date} / {end_date} (days in `time_zone`, end excluded — a template using
 * them is split on local midnights, `max_range_days` days per call).
 */
import { z } from 'zod';
import { AdapterError, type Adapter, type AdapterModule, type HistoryQuery } from '../contract.js';
import { parseOptionsWith, absolutePath, envName, millis } from '../common/options.js';
import { readSecret } from '../common/secrets.js';
import { checkFromSystem } from '../common/records.js';
import { fillTemplate, placeholders } from '../common/template.js';
import { parseIdentifier } from '../../component/quoalise/identifier.js';
import { formatIsoUtc } from '../../component/quoalise/time.js';
import type { Meta, SeriesRecord } from '../../component/quoalise/types.js';
import { ApiClient, clientCredentials, type Auth } from './client.js';
import { TokenCache } from './token.js';
import { midnight, splitDays, splitSeconds, type Window } from './ranges.js';
import { dataconnectRecords, mapRecords } from './mapping.js';
import {
  CONSENT_GONE, DATACONNECT_BASE_URL, DATACONNECT_ISSUER, DATACONNECT_TOKEN_PATH, DATACONNECT_ZONE, MEASURES, dataconnectError, dataconnectMeta,
} from './dataconnect.js';

const metaSchema: z.ZodType<Meta> = z.lazy(() => z.record(z.union([z.string(), metaSchema])));
const URL_PLACEHOLDERS = ['identifier', 'start', 'end', 'start_epoch', 'end_epoch', 'start_date', 'end_date'];
const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'must be an IANA time zone such as Europe/Paris');

const SeriesSchema = z
  .object({
    identifier: z.string().refine((s) => {
      try {
        parseIdentifier(s);
        return true;
      } catch {
        return false;
      }
    }, 'must be a series identifier such as urn:dev:prm:30001442769830_consumption/power/active/raw'),
    /** Absolute, or relative to base_url. */
    url: z.string().min(1).refine((u) => placeholders(u).every((p) => URL_PLACEHOLDERS.includes(p)), `knows only {${URL_PLACEHOLDERS.join('}, {')}}`),
    records: z.string().default(''),
    time_field: z.string().min(1).default('time'),
    time_format: z.enum(['epoch_s', 'epoch_ms', 'iso', 'local', 'date']).default('iso'),
    time_zone: timeZone.default('Europe/Paris'),
    value_field: z.string().min(1).default('value'),
    unit_field: z.string().min(1).optional(),
    unit: z.string().min(1).optional(),
    numeric_strings: z.boolean().default(true),
    /** The API serves at most this many days per call: longer ranges are split. */
    max_range_days: z.number().positive().optional(),
    meta: metaSchema.default({}),
  })
  .strict();

const HttpSchema = z
  .object({
    preset: z.enum(['dataconnect']).optional(),
    base_url: z.string().regex(/^https?:\/\/[^/]+/, 'must be an http:// or https:// URL').transform((u) => u.replace(/\/+$/, '')).optional(),
    timeout_ms: millis(100, 15_000),
    /** Most calls to the API one get_history may make (its range split by max_range_days or the preset's days). */
    max_calls: z.number().int().min(1).max(100_000).default(1000),
    auth: z.enum(['none', 'bearer', 'oauth2']).optional(),
    token_file: absolutePath.optional(),
    token_env: envName.optional(),
    token_url: z.string().regex(/^https?:\/\/./, 'must be an http:// or https:// URL').optional(),
    client_id: z.string().min(1).optional(),
    client_secret_file: absolutePath.optional(),
    client_secret_env: envName.optional(),
    scope: z.string().min(1).optional(),
    series: z.array(SeriesSchema).default([]),
    /** dataconnect: the usage points (PRMs) whose consent this app holds. */
    usage_points: z.array(z.string().regex(/^\d{14}$/, 'must be a PRM: 14 digits')).default([]),
    /** dataconnect: the measures served (default: all), e.g. consumption/power/active/raw. */
    measures: z.array(z.enum([...MEASURES.keys()] as [string, ...string[]])).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    const auth = o.auth ?? (o.preset === 'dataconnect' ? 'oauth2' : 'none');
    if (o.preset === 'dataconnect') {
      if (o.usage_points.length === 0) issue('usage_points', 'give the PRMs (14 digits) this app reads');
      if (o.series.length > 0) issue('series', 'the dataconnect preset defines its series itself');
      if (auth !== 'oauth2') issue('auth', 'Data Connect needs oauth2');
    } else {
      if (!o.base_url) issue('base_url', 'is required (the API, e.g. https://api.example.org)');
      if (o.series.length === 0) issue('series', 'give at least one series: its identifier, URL template and mapping');
      if (o.usage_points.length > 0 || o.measures) issue('usage_points', 'only with preset: dataconnect');
    }
    if (auth === 'bearer' && !o.token_file && !o.token_env) issue('token_file', 'bearer authentication needs token_file or token_env');
    if (auth === 'oauth2') {
      if (!o.client_id) issue('client_id', 'oauth2 needs the client id');
      if (!o.client_secret_file && !o.client_secret_env) issue('client_secret_file', 'oauth2 needs client_secret_file or client_secret_env');
      if (!o.token_url && o.preset !== 'dataconnect') issue('token_url', 'oauth2 needs the token endpoint');
    }
  });

export type HttpOptions = z.output<typeof HttpSchema>;

/** Renew OAuth2 tokens this long before they expire. */
const TOKEN_MARGIN_MS = 60_000;

export const httpAdapter: AdapterModule<HttpOptions> = {
  kind: 'http',
  description: 'reads history from a JSON REST API (URL templates, bearer or OAuth2); preset dataconnect for Enedis Data Connect',
  parseOptions: (raw) => parseOptionsWith('http', HttpSchema, raw),
  create({ options: o }) {
    const base = o.base_url ?? DATACONNECT_BASE_URL;
    const issuer = o.preset === 'dataconnect' ? DATACONNECT_ISSUER : new URL(base).host;
    const client = new ApiClient({
      issuer,
      timeoutMs: o.timeout_ms,
      auth: auth(o, base, issuer),
      ...(o.preset === 'dataconnect' && { mapError: dataconnectErrors }),
    });
    return o.preset === 'dataconnect' ? dataconnect(o, base, client) : generic(o, base, client, issuer);
  },
};

function auth(o: HttpOptions, base: string, issuer: string): Auth {
  const kind = o.auth ?? (o.preset === 'dataconnect' ? 'oauth2' : 'none');
  if (kind === 'bearer') return { type: 'bearer', token: readSecret('token', { file: o.token_file, env: o.token_env })! };
  if (kind === 'none') return { type: 'none' };
  const secret = readSecret('client_secret', { file: o.client_secret_file, env: o.client_secret_env })!;
  const tokenUrl = o.token_url ?? `${base}${DATACONNECT_TOKEN_PATH}`;
  return {
    type: 'oauth2',
    tokens: new TokenCache({ fetchToken: () => clientCredentials(tokenUrl, o.client_id!, secret, o.scope, o.timeout_ms, issuer), marginMs: TOKEN_MARGIN_MS }),
  };
}

function dataconnectErrors(status: number, body: unknown): AdapterError | null {
  const e = dataconnectError(body);
  if (!e) return null;
  const gone = CONSENT_GONE.get(e.code);
  const text = `Enedis Data Connect answered ${e.code}: ${e.description || gone || `HTTP ${status}`}`;
  const upstream = { issuer: DATACONNECT_ISSUER, code: e.code };
  if (gone) return new AdapterError('consent-invalidated', text, upstream);
  if (status === 404) return new AdapterError('not-found', text, upstream);
  if (status === 400) return new AdapterError('bad-request', text, upstream);
  return new AdapterError('upstream', text, upstream);
}

const notFound = (series: string) => new AdapterError('not-found', `this application serves no series ${series}`);

/**
 * Records from each window in turn, kept inside [start, end) and the window, until `limit`. A range
 * needing more than `maxCalls` windows is refused before any call: a requester's get_history from 1990
 * with one-day windows made 13,481 calls to the API (a rate-limited API then blocks the app for everyone).
 */
async function collect(q: HistoryQuery, windows: Array<Window & { fetch(): Promise<SeriesRecord[]> }>, maxCalls: number): Promise<SeriesRecord[]> {
  if (windows.length > maxCalls) {
    throw new AdapterError('bad-request', `narrow the range: it takes ${windows.length} calls to the API, at most ${maxCalls} per request`);
  }
  const out: SeriesRecord[] = [];
  for (const w of windows) {
    const records = (await w.fetch()).filter((r) => r.time >= w.start && r.time < w.end).sort((a, b) => a.time - b.time);
    // One by one: out.push(...records) overflows the stack past ~500,000 records in one answer.
    for (const r of records) {
      if (out.length === q.limit) break;
      out.push(r);
    }
    if (out.length === q.limit) return out;
  }
  return out;
}

function generic(o: HttpOptions, base: string, client: ApiClient, issuer: string): Adapter {
  const byId = new Map(o.series.map((s) => [s.identifier, s]));
  return {
    async catalogue() {
      return o.series.map((s) => ({ identifier: s.identifier, meta: s.meta }));
    },
    async history(q) {
      const s = byId.get(q.series);
      if (!s) throw notFound(q.series);
      const end = q.end ?? Date.now() / 1000;
      const start = q.start ?? end - (s.max_range_days ?? 1) * 86_400;
      const url = (vars: Record<string, string>) => {
        const filled = fillTemplate(s.url, Object.fromEntries(Object.entries({ identifier: q.series, ...vars }).map(([k, v]) => [k, encodeURIComponent(v)])));
        return /^https?:\/\//.test(filled) ? filled : `${base}${filled.startsWith('/') ? '' : '/'}${filled}`;
      };
      const byDays = /\{(start|end)_date\}/.test(s.url);
      const windows = byDays
        ? splitDays(start, end, s.max_range_days ?? 36_500, s.time_zone).map((d) => ({
            start: Math.max(start, midnight(d.startDate, s.time_zone)),
            end: Math.min(end, midnight(d.endDate, s.time_zone)),
            vars: { start_date: d.startDate, end_date: d.endDate },
          }))
        : splitSeconds(start, end, (s.max_range_days ?? Infinity) * 86_400).map((w) => ({ ...w, vars: {} as Record<string, string> }));
      const records = await collect(
        q,
        windows.map((w) => ({
          ...w,
          fetch: async () => {
            const vars = { start: formatIsoUtc(w.start), end: formatIsoUtc(w.end), start_epoch: String(w.start), end_epoch: String(w.end), ...w.vars };
            return mapRecords(await client.getJson(url(vars)), s, q.series, issuer);
          },
        })),
        o.max_calls,
      );
      return checkFromSystem([{ meta: s.meta, records }], issuer);
    },
  };
}

function dataconnect(o: HttpOptions, base: string, client: ApiClient): Adapter {
  const measures = o.measures ?? [...MEASURES.keys()];
  const series = o.usage_points.flatMap((prm) => measures.map((m) => ({ identifier: `urn:dev:prm:${prm}_${m}`, prm, measure: MEASURES.get(m)! })));
  const byId = new Map(series.map((s) => [s.identifier, s]));
  return {
    async catalogue() {
      return series.map((s) => ({ identifier: s.identifier, meta: dataconnectMeta(s.prm, s.measure) }));
    },
    async history(q) {
      const s = byId.get(q.series);
      if (!s) throw notFound(q.series);
      const end = Math.min(q.end ?? Infinity, Date.now() / 1000);
      const start = q.start ?? end - s.measure.maxDays * 86_400;
      if (start >= end) return [{ meta: dataconnectMeta(s.prm, s.measure), records: [] }];
      const windows = splitDays(start, end, s.measure.maxDays, DATACONNECT_ZONE).map((d) => ({
        start: Math.max(start, midnight(d.startDate, DATACONNECT_ZONE)),
        end: Math.min(end, midnight(d.endDate, DATACONNECT_ZONE)),
        fetch: async () => {
          const url = `${base}${s.measure.endpoint}?${new URLSearchParams({ usage_point_id: s.prm, start: d.startDate, end: d.endDate })}`;
          try {
            return dataconnectRecords(await client.getJson(url), q.series, s.measure, DATACONNECT_ISSUER);
          } catch (err) {
            // No data in this window (before the meter's activation, a gap): not an error of the range.
            if (err instanceof AdapterError && err.kind === 'not-found') return [];
            throw err;
          }
        },
      }));
      return checkFromSystem([{ meta: dataconnectMeta(s.prm, s.measure), records: await collect(q, windows, o.max_calls) }], DATACONNECT_ISSUER);
    },
  };
}

