/**
 * The HTTP side of the `http` adapter: GET a JSON document with a time limit and the configured
 * authentication, and turn every failure into the contract's errors —
 * 429 → `rate-limited`, with `Retry-After` honoured (no call goes out before then); 404 → `not-found`;
 * 400/422 → `bad-request`; 401 → a new OAuth2 token and one more try, then `upstream`; other 4xx/5xx, no
 * answer, a time-out or a body that is not JSON → `upstream` with the status as its code. A preset may
 * recognise its API's own error codes first (`mapError`).
 */
import { AdapterError } from '../contract.js';
import { malformed } from '../common/records.js';
import type { TokenCache } from './token.js';
import { BodyTooLargeError, fetchFailure, readBody } from '../common/http-body.js';
import { redactUrl } from '../common/urls.js';

export type Auth = { type: 'none' } | { type: 'bearer'; token: string } | { type: 'oauth2'; tokens: TokenCache };

export interface ApiClientOptions {
  /** Who failed, in upstream errors (the API's host, or e.g. `enedis`). */
  issuer: string;
  timeoutMs: number;
  auth: Auth;
  /** The API's own error codes → contract errors; null falls back to the status mapping. */
  mapError?(status: number, body: unknown): AdapterError | null;
  now?: () => number;
}

/** Retry-After: delay-seconds or an HTTP date (RFC 9110 §10.2.3); 1 s when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number {
  if (header === null) return 1000;
  if (/^\d+$/.test(header.trim())) return Math.min(MAX_RETRY_AFTER_MS, Number(header.trim()) * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? 1000 : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - now));
}

/** An API asking to wait longer is asked again after an hour: a mistaken header must not stop the app for good. */
export const MAX_RETRY_AFTER_MS = 3_600_000;
/** Largest answer read from an API (a page of a history): past it, the call fails as malformed. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export class ApiClient {
  private blockedUntil = 0;

  constructor(private readonly opts: ApiClientOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  async getJson(url: string): Promise<unknown> {
    const wait = this.blockedUntil - this.now();
    if (wait > 0) throw this.rateLimited(wait);
    let res = await this.request(url);
    if (res.status === 401 && this.opts.auth.type === 'oauth2') {
      this.opts.auth.tokens.invalidate(res.token);
      res = await this.request(url);
    }
    const { response } = res;
    let text: string;
    try {
      text = await readBody(response, MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw malformed(this.opts.issuer, `the answer to GET ${redactUrl(url)} is larger than ${MAX_BODY_BYTES} bytes`);
      throw this.failure(url, err, true);
    }
    let body: unknown = undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      if (response.ok) throw malformed(this.opts.issuer, `the answer to GET ${redactUrl(url)} is not JSON`);
    }
    if (response.ok) return body;
    if (response.status === 429) {
      const ms = retryAfterMs(response.headers.get('retry-after'), this.now());
      this.blockedUntil = this.now() + ms;
      throw this.rateLimited(ms);
    }
    const mapped = this.opts.mapError?.(response.status, body);
    if (mapped) throw mapped;
    const detail = `GET ${redactUrl(url)}: HTTP ${response.status}${text ? ` ${text.slice(0, 200)}` : ''}`;
    if (response.status === 404) throw new AdapterError('not-found', detail, { issuer: this.opts.issuer, code: '404' });
    if (response.status === 400 || response.status === 422) throw new AdapterError('bad-request', detail, { issuer: this.opts.issuer, code: String(response.status) });
    throw new AdapterError('upstream', detail, { issuer: this.opts.issuer, code: String(response.status) });
  }

  private rateLimited(ms: number): AdapterError {
    return new AdapterError('rate-limited', `${this.opts.issuer} limits the rate of requests: retry in ${Math.ceil(ms / 1000)} s`, { issuer: this.opts.issuer, code: '429' });
  }

  private async request(url: string): Promise<{ response: Response; status: number; token: string }> {
    let token = '';
    const headers: Record<string, string> = { accept: 'application/json' };
    const { auth } = this.opts;
    if (auth.type === 'bearer') token = auth.token;
    if (auth.type === 'oauth2') {
      try {
        token = await auth.tokens.get();
      } catch (err) {
        throw err instanceof AdapterError ? err : new AdapterError('upstream', `no access token from ${this.opts.issuer}: ${(err as Error).message}`, { issuer: this.opts.issuer, code: 'token' });
      }
    }
    if (token) headers.authorization = `Bearer ${token}`;
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(this.opts.timeoutMs) });
      return { response, status: response.status, token };
    } catch (err) {
      throw this.failure(url, err, false);
    }
  }

  /** No answer (`reading`: the answer cut off): `timeout` when our time limit ended it, else `unreachable`. */
  private failure(url: string, err: unknown, reading: boolean): AdapterError {
    const timeout = (err as Error | undefined)?.name === 'TimeoutError';
    const ms = this.opts.timeoutMs;
    const what = timeout
      ? reading ? `: the answer did not arrive within ${ms} ms` : ` did not answer within ${ms} ms`
      : `${reading ? ': reading the answer failed' : ' failed'}: ${fetchFailure(err)}`;
    return new AdapterError('upstream', `GET ${redactUrl(url)}${what}`, { issuer: this.opts.issuer, code: timeout ? 'timeout' : 'unreachable' });
  }
}

/** POSTs a client-credentials request to a token endpoint (RFC 6749 §4.4.2): the TokenCache's fetcher. */
export async function clientCredentials(tokenUrl: string, clientId: string, clientSecret: string, scope: string | undefined, timeoutMs: number, issuer: string): Promise<{ access_token: string; expires_in?: number }> {
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, ...(scope ? { scope } : {}) });
  let res: Response;
  try {
    res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new AdapterError('upstream', `token endpoint ${redactUrl(tokenUrl)} unreachable: ${fetchFailure(err)}`, { issuer, code: 'token' });
  }
  const text = await readBody(res, 64 * 1024, { truncate: true }).catch(() => '');
  if (!res.ok) {
    // The body of a refusal names the error (invalid_client…), never the secret we sent.
    throw new AdapterError('upstream', `token endpoint ${redactUrl(tokenUrl)} refused the client credentials: HTTP ${res.status} ${text.slice(0, 200)}`, { issuer, code: 'token' });
  }
  try {
    return JSON.parse(text) as { access_token: string; expires_in?: number };
  } catch {
    throw malformed(issuer, `the token endpoint's answer is not JSON`);
  }
}
