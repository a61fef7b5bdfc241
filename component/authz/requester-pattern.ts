/**
 * Who a grant is for: one bare JID, every JID of a domain, or anyone. Requesters are identified by
 * the bare JID of their XMPP session (quoalise.md), so patterns are matched against bare JIDs only.
 */
import { parseJid } from '../xmpp/jid.js';

export class RequesterPatternError extends Error {
  override name = 'RequesterPatternError';
}

/**
 * Checks and normalizes a requester pattern into its stored form:
 * - `alice@example.net` (a bare JID; a resource is refused: grants are per person or service, not per device)
 * - `*@example.net` or `example.net` → `*@example.net`: every JID of that domain, and the domain itself
 * - `*` → anyone (open data)
 */
export function normalizeRequester(s: string): string {
  const text = s.trim().toLowerCase();
  if (text === '*') return '*';
  const domainOnly = text.startsWith('*@') ? text.slice(2) : text.includes('@') ? null : text;
  const candidate = domainOnly ?? text;
  const jid = parseJid(candidate);
  // A domain pattern has no localpart; a bare JID must have one.
  if (jid === null || candidate.includes('/') || /[\s*?]/.test(candidate) || (domainOnly === null) !== (jid.local !== '')) {
    throw new RequesterPatternError(
      `requester "${s}" must be a bare JID (alice@example.net), a domain (example.net or *@example.net) or * for anyone`,
    );
  }
  return domainOnly !== null ? `*@${jid.domain}` : `${jid.local}@${jid.domain}`;
}

/** True when the bare JID `requester` is covered by the normalized pattern. */
export function requesterMatches(pattern: string, requester: string): boolean {
  if (pattern === '*') return true;
  // Parsed, never compared as a string: what is not a JID (a resource and all) is nobody's.
  const jid = parseJid(requester);
  if (!jid) return false;
  if (pattern.startsWith('*@')) return jid.domain === pattern.slice(2);
  return jid.local !== '' && `${jid.local}@${jid.domain}` === pattern;
}
