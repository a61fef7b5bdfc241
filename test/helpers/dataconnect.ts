/**
 * A stand-in for Enedis Data Connect (a third party's API that cannot run here: the one stand-in the
 * project allows), implementing the published shape the `http` adapter's `dataconnect` preset reads:
 * the OAuth2 client-credentials token endpoint and the five v5 metering-data endpoints, with data
 * generated deterministically per usage point. Tests script its faults: 429 with Retry-After, 5xx,
 * authorizations wiped, malformed readings, revoked tokens, the server going away.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { addDays, midnight } from '../../adapters/http/ranges.js';

const ZONE = 'Europe/Paris';
const CURVES = new Set(['/metering_data_clc/v5/consumption_load_curve', '/metering_data_plc/v5/production_load_curve']);
const DAILY = new Set(['/metering_data_dc/v5/daily_consumption', '/metering_data_dp/v5/daily_production', '/metering_data_dcmp/v5/daily_consumption_max_power']);

/** The load curve's value (W) for the half-hour ending at `endEpoch`. */
export const curveValue = (prm: string, endEpoch: number): number => (Number(prm.slice(-3)) + Math.round(endEpoch / 1800)) % 5000;
/** The daily value (Wh, or VA for max power) of a day. */
export const dailyValue = (prm: string, date: string): number => Number(prm.slice(-2)) * 1000 + Number(date.slice(8, 10));

export interface Call {
  path: string;
  usagePoint: string;
  start: string;
  end: string;
}

/** "YYYY-MM-DD HH:MM:SS", local time in Europe/Paris, as Data Connect writes it. */
function localDateTime(epoch: number): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(epoch * 1000))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

export class DataConnectStandIn {
  readonly calls: Call[] = [];
  tokensIssued = 0;
  /** Seconds of validity announced for new tokens. */
  tokenLifetime = 12_600;
  /** Usage points whose authorization was wiped (the customer changed supplier). */
  readonly wiped = new Set<string>();
  /** Usage points whose readings come out malformed. */
  readonly garbled = new Set<string>();
  /** The next answers to metering calls, scripted: a status and headers. */
  readonly script: Array<{ status: number; headers?: Record<string, string>; body?: unknown }> = [];
  private tokens = new Map<string, number>();
  private server: Server;
  private port = 0;

  private constructor(readonly clientId: string, readonly clientSecret: string) {
    this.server = this.newServer();
  }

  static async start(clientId = 'fedgate-client', clientSecret = `cs-${Math.random().toString(36).slice(2)}`): Promise<DataConnectStandIn> {
    const s = new DataConnectStandIn(clientId, clientSecret);
    await s.listen();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every token issued so far stops working (the API will answer 401). */
  revokeTokens(): void {
    this.tokens.clear();
  }

  /** The server goes away (connections refused) until `restart`. */
  async pause(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  async restart(): Promise<void> {
    this.server = this.newServer();
    await this.listen();
  }

  async stop(): Promise<void> {
    if (this.server.listening) await this.pause();
  }

  private newServer(): Server {
    return createServer((req, res) => void this.handle(req, res).catch(() => res.writeHead(500).end()));
  }

  private async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    if (req.method === 'POST' && url.pathname === '/oauth2/v3/token') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      if (form.get('grant_type') !== 'client_credentials' || form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) {
        return this.json(res, 401, { error: 'invalid_client', error_description: 'Client authentication failed' });
      }
      const token = `at-${++this.tokensIssued}-${Math.random().toString(36).slice(2)}`;
      this.tokens.set(token, Date.now() + this.tokenLifetime * 1000);
      return this.json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: this.tokenLifetime, scope: 'am_application_scope default' });
    }
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!auth || !((this.tokens.get(auth) ?? 0) > Date.now())) return this.json(res, 401, { error: 'invalid_token', error_description: 'Invalid or expired access token' });
    if (req.method !== 'GET' || (!CURVES.has(url.pathname) && !DAILY.has(url.pathname))) return this.json(res, 404, { error: 'not_found' });
    const prm = url.searchParams.get('usage_point_id') ?? '';
    const start = url.searchParams.get('start') ?? '';
    const end = url.searchParams.get('end') ?? '';
    this.calls.push({ path: url.pathname, usagePoint: prm, start, end });
    const scripted = this.script.shift();
    if (scripted) return this.json(res, scripted.status, scripted.body ?? { error: `HTTP ${scripted.status}` }, scripted.headers);
    if (!/^\d{14}$/.test(prm) || !/^\d{4}-\d{2}-\d{2}$/.test(start) || !/^\d{4}-\d{2}-\d{2}$/.test(end) || start >= end) {
      return this.json(res, 400, { error: 'ADAM-ERR0003', error_description: 'Invalid request parameters' });
    }
    if (this.wiped.has(prm)) return this.json(res, 403, { error: 'ADAM-DC-0008', error_description: 'No consent can be found for this customer and this usage point' });
    const days = (Date.parse(end) - Date.parse(start)) / 86_400_000;
    if (CURVES.has(url.pathname) && days > 7) return this.json(res, 400, { error: 'STAND-IN-RANGE', error_description: 'a load curve is served 7 days at a time' });
    if (days > 365) return this.json(res, 400, { error: 'STAND-IN-RANGE', error_description: 'at most 365 days per call' });

    const interval_reading: Array<Record<string, string>> = [];
    if (CURVES.has(url.pathname)) {
      for (let t = midnight(start, ZONE) + 1800; t <= midnight(end, ZONE); t += 1800) {
        interval_reading.push({ value: String(curveValue(prm, t)), date: localDateTime(t), interval_length: 'PT30M', measure_type: 'B' });
      }
    } else {
      for (let d = start; d < end; d = addDays(d, 1)) {
        const max = url.pathname.includes('max_power');
        interval_reading.push({ value: String(dailyValue(prm, d)), date: max ? `${d} 19:30:00` : d });
      }
    }
    if (this.garbled.has(prm) && interval_reading[0]) interval_reading[0].value = 'n/a';
    const max = url.pathname.includes('max_power');
    const curve = CURVES.has(url.pathname);
    return this.json(res, 200, {
      meter_reading: {
        usage_point_id: prm,
        start,
        end,
        quality: 'BRUT',
        reading_type: curve
          ? { measurement_kind: 'power', unit: 'W', aggregate: 'average' }
          : { measurement_kind: max ? 'power' : 'energy', measuring_period: 'P1D', unit: max ? 'VA' : 'Wh', aggregate: max ? 'maximum' : 'sum' },
        interval_reading,
      },
    });
  }
}
