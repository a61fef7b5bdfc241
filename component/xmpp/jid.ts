/**
 * Minimal JID handling for routing (RFC 7622): split, lower-case localpart and domain.
 * Hand-written rather than @xmpp/jid because it runs on every stanza and we only need split + compare.
 */
export interface Jid {
  local: string;
  domain: string;
  resource: string;
}

export function parseJid(s: string): Jid | null {
  if (!s) return null;
  const slash = s.indexOf('/');
  const bare = slash === -1 ? s : s.slice(0, slash);
  const resource = slash === -1 ? '' : s.slice(slash + 1);
  const at = bare.indexOf('@');
  const local = at === -1 ? '' : bare.slice(0, at);
  const domain = at === -1 ? bare : bare.slice(at + 1);
  if (!domain || (at !== -1 && !local)) return null;
  return { local: local.toLowerCase(), domain: domain.toLowerCase(), resource };
}

export function bareJid(s: string): string {
  const j = parseJid(s);
  if (!j) return s;
  return j.local ? `${j.local}@${j.domain}` : j.domain;
}

/** The domain part of a JID (lower-case), or the string itself when it is not a JID. */
export function domainOf(s: string): string {
  return parseJid(s)?.domain ?? s;
}

/** Localparts we accept for applications: the RFC 7622 localpart minus characters that need escaping. */
export const LOCALPART_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
