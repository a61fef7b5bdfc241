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
