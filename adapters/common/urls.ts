/** URLs of upstream systems as options, in errors and in logs: credentials never inline, query values never shown. */

/** True when a URL carries a user or password (`scheme://user:pass@host`): secrets go in _file or _env options. */
export function hasCredentials(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url);
}

/** A URL as it may appear in logs and errors: no credentials, no query (its values may be tokens or personal data). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(an unreadable URL)';
  }
}

/**
 * Why a fetch failed, for an error text: the cause's code (ECONNREFUSED, ENOTFOUND…) or the error's
 * name, never its message — undici's messages may quote the whole URL, credentials included.
 */
export function fetchFailure(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  if (e?.name === 'TimeoutError') return 'no answer in time';
  return e?.cause?.code ?? e?.cause?.name ?? e?.name ?? 'failed';
}
