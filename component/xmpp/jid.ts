/**
 * Minimal JID handling for routing (RFC 7622): split, and bring localpart and domain to one canonical
 * spelling. Hand-written rather than @xmpp/jid because it runs on every stanza and we only need split +
 * compare.
 *
 * Canonical, not just lower-case: a server accepts `from="eve@e\u00ADvil.example"` (a soft hyphen) or
 * `ｅvil.example` (full-width letters) from evil.example's own connection, because its stringprep maps them
 * to evil.example, and forwards the string as sent. Counted as written, each spelling would be one more
 * party, and every limit per JID or per domain would multiply without bound.
 *
 * The canonical domain is ASCII: an internationalised domain in its A-labels (`xn--…`), as the
 * configuration writes the gateway's own and as stored JIDs were written; one trailing dot is dropped.
 * A localpart that the mapping would give a character a localpart may not hold (`＠` becoming `@`) is
 * not a JID.
 */
import { domainToASCII } from 'node:url';

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
  if (!NON_ASCII.test(bare) && !domain.endsWith('.')) return { local: local.toLowerCase(), domain: domain.toLowerCase(), resource };
  const d = canonicalDomain(domain);
  const l = local && canonicalLocal(local);
  if (!d || (at !== -1 && (!l || NOT_IN_LOCALPART.test(l)))) return null;
  return { local: l, domain: d, resource };
}

const NON_ASCII = /[^\x00-\x7f]/;
/** RFC 7622 §3.3.1: characters a localpart never holds (and whitespace). */
const NOT_IN_LOCALPART = /["&'/:<>@\s]/;
/** RFC 3454 table B.1, "commonly mapped to nothing" by nameprep and nodeprep (the soft hyphen, joiners, variation selectors…). */
const MAPPED_TO_NOTHING = /[\u00ad\u034f\u1806\u180b-\u180d\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff]/g;

/**
 * RFC 3454 table B.2 (nameprep's and nodeprep's case folding) where it differs from toLowerCase: the
 * sharp s and the final sigma. UTS #46 keeps them (`claß` is `xn--cla-7ka`), a server folds them
 * (`class`): two names for one domain the server sees — or one domain taken for another.
 */
const FOLDED_OTHERWISE = /[ßς]/g;
const FOLD: Record<string, string> = { ß: 'ss', ς: 'σ' };

/** Nameprep's and nodeprep's mapping: B.1 removed, NFKC, case folded (B.2), NFKC again. */
function fold(s: string): string {
  return s.replace(MAPPED_TO_NOTHING, '').normalize('NFKC').toLowerCase().replace(FOLDED_OTHERWISE, (c) => FOLD[c]!).normalize('NFKC');
}

/**
 * A domain as the server's nameprep maps it — NFKC included, so that `evil\u2024example` (a one dot
 * leader) or `s\u2488evil.example` (`⒈`) are the `evil.example` and `s1.evil.example` the server took
 * them for — then in A-labels (UTS #46), without a trailing dot; '' if it is not a domain.
 */
function canonicalDomain(domain: string): string {
  const ascii = domainToASCII(fold(domain));
  return ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
}

/** A localpart as nodeprep maps it. */
function canonicalLocal(local: string): string {
  return fold(local);
}

/** The bare JID, canonical. Not a JID: the string itself — the router refuses such senders before anything reads them. */
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
