/**
 * OAuth2 client-credentials tokens (RFC 6749 §4.4), cached until shortly before they expire and shared
 * by concurrent calls; `invalidate` after a 401 makes the next call fetch a new one. The token and the
 * client secret are never logged nor put in an error message.
 */
export interface TokenResponse {
  access_token: string;
  expires_in?: number;
}

export interface TokenCacheOptions {
  /** Fetches a new token (the POST to the token endpoint). */
  fetchToken(): Promise<TokenResponse>;
  /** Renew this long before the expiry the server announced. */
  marginMs: number;
  now?: () => number;
}

/** A token without `expires_in` is used for this long before being renewed. */
const DEFAULT_LIFETIME_MS = 3_600_000;

export class TokenCache {
  private token: { value: string; expiresAt: number } | null = null;
  private pending: Promise<string> | null = null;

  constructor(private readonly opts: TokenCacheOptions) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  async get(): Promise<string> {
    if (this.token && this.now() < this.token.expiresAt) return this.token.value;
    this.pending ??= this.opts
      .fetchToken()
      .then((r) => {
        if (typeof r.access_token !== 'string' || r.access_token === '') throw new Error('the token endpoint answered without an access_token');
        const lifetime = typeof r.expires_in === 'number' && r.expires_in > 0 ? r.expires_in * 1000 : DEFAULT_LIFETIME_MS;
        this.token = { value: r.access_token, expiresAt: this.now() + Math.max(lifetime - this.opts.marginMs, lifetime / 2) };
        return r.access_token;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }

  /** The API refused the token (401): forget it. */
  invalidate(token: string): void {
    if (this.token?.value === token) this.token = null;
  }
}
