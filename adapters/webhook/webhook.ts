/**
 * `webhook` — delivers the records sent to the app to an HTTP endpoint of the application's system:
 * one POST per message, JSON body, `Idempotency-Key` header = the delivery key (stable across retries,
 * so the receiving system can apply each message once). Answers: 2xx applied; 4xx (but 408, 429)
 * refused for good (dead letter); anything else, or no answer, is retried with backoff by fedgate.
 *
 * Body: { "key": "...", "from": "app@other.example", "blocks": [ { "meta": {...}, "records": [
 *         { "name": "...", "time": 1704063600, "value": 342, "unit": "W" }, ... ] } ] }
 */
import { AdapterError, OptionsError, type AdapterModule, type Delivery } from '../contract.js';
import { fetchFailure, readBody } from '../common/http-body.js';
import { hasCredentials, redactUrl } from '../common/urls.js';

export interface WebhookOptions {
  /** Where to POST; http or https. */
  url: string;
  /** Name of an environment variable holding a bearer token (the token itself never goes in options). */
  token_env?: string;
  timeout_ms: number;
}

export const webhookAdapter: AdapterModule<WebhookOptions> = {
  kind: 'webhook',
  description: 'POSTs the records sent to the app to an HTTP endpoint (JSON, Idempotency-Key header)',
  acceptsData: () => true,
  parseOptions(raw) {
    const { url, token_env, timeout_ms = 10_000, ...rest } = raw;
    const unknown = Object.keys(rest)[0];
    if (unknown) throw new OptionsError(unknown, 'unknown option (webhook knows: url, token_env, timeout_ms)');
    if (typeof url !== 'string' || !/^https?:\/\/./.test(url)) throw new OptionsError('url', 'must be an http:// or https:// URL');
    if (hasCredentials(url)) throw new OptionsError('url', 'a URL never carries a user or password: give the token in token_env');
    if (token_env !== undefined && (typeof token_env !== 'string' || !/^[A-Z_][A-Z0-9_]*$/.test(token_env))) {
      throw new OptionsError('token_env', 'must be the name of an environment variable, e.g. METERS_API_TOKEN');
    }
    if (typeof timeout_ms !== 'number' || timeout_ms < 100) throw new OptionsError('timeout_ms', 'must be a number of milliseconds >= 100');
    return { url, timeout_ms, ...(token_env ? { token_env } : {}) };
  },
  create({ options }) {
    const token = options.token_env ? process.env[options.token_env] : undefined;
    return {
      async deliver(batch) {
        // One POST per message, in order: each keeps its own idempotency key.
        for (const d of batch) await post(d);
      },
    };

    async function post(d: Delivery): Promise<void> {
        let res: Response;
        try {
          res = await fetch(options.url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'idempotency-key': d.key,
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
            body: JSON.stringify({ key: d.key, from: d.from, blocks: d.blocks }),
            signal: AbortSignal.timeout(options.timeout_ms),
            // Followed, a 301/302/303 turns the POST into a GET without its body, and a 200 to that GET
            // would count as delivered: a redirect is a failure to fix in the configuration.
            redirect: 'manual',
          });
        } catch (err) {
          // Our own time limit is no answer in time, not an unreachable host: told apart as the http adapter does.
          const timeout = (err as Error | undefined)?.name === 'TimeoutError';
          throw new AdapterError('upstream', `POST ${redactUrl(options.url)} ${timeout ? `did not answer within ${options.timeout_ms} ms` : `failed: ${fetchFailure(err)}`}`, {
            issuer: new URL(options.url).host,
            code: timeout ? 'timeout' : 'unreachable',
          });
        }
        const text = await readBody(res, 200, { truncate: true }).catch(() => '');
        if (res.ok) return;
        if (res.status >= 300 && res.status < 400) {
          throw new AdapterError('upstream', `POST ${redactUrl(options.url)}: HTTP ${res.status}, a redirect to ${redirectTarget(res.headers.get('location'))}: set the webhook's url to where it points`, {
            issuer: new URL(options.url).host,
            code: String(res.status),
          });
        }
        const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
        throw new AdapterError(permanent ? 'rejected' : 'upstream', `POST ${redactUrl(options.url)}: HTTP ${res.status}${text ? ` ${text}` : ''}`, {
          issuer: new URL(options.url).host,
          code: String(res.status),
        });
    }

    /** Where a redirect points, for the error text: a Location is often relative to the webhook's URL. */
    function redirectTarget(loc: string | null): string {
      if (!loc) return '(no Location)';
      try {
        return redactUrl(new URL(loc, options.url).href);
      } catch {
        return '(an unreadable URL)';
      }
    }
  },
};
