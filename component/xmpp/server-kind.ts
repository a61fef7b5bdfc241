/**
 * Which XMPP server is at the other end of the link, and what to tell its admin when it refuses us.
 * ejabberd and Prosody configure components differently (an `ejabberd_service` listener with `hosts:`
 * and `password:`, against a `Component "domain"` entry with `component_secret`), so a fatal error's
 * hint must name the setting of the server actually connected to.
 */
import type { Element } from './xml.js';

export type ServerKind = 'ejabberd' | 'prosody' | 'unknown';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Recognises the server from its stream header (measured on ejabberd 23.01 and Prosody 0.12): ejabberd
 * gives a decimal stream id; Prosody a UUID, or an empty id with `version` when it does not know the
 * domain. Anything else is `unknown`: the hints then name both servers' settings.
 */
export function serverKindFromHeader(header: Element): ServerKind {
  const id = header.attrs.id ?? '';
  if (/^\d+$/.test(id)) return 'ejabberd';
  if (UUID.test(id) || (id === '' && header.attrs.version !== undefined)) return 'prosody';
  return 'unknown';
}

/** Stream errors that no retry can fix: the admin must change a configuration. */
export const FATAL_CONDITIONS = new Set(['not-authorized', 'conflict', 'host-unknown', 'invalid-from', 'improper-addressing']);

const EJABBERD: Record<string, (domain: string) => string> = {
  // ejabberd answers not-authorized both to a wrong secret and to a domain its listener does not serve.
  'not-authorized': (d) =>
    `the server refused the handshake: check that link.domain (${d}) is under hosts: of the ejabberd_service listener and that the secret (link.secret_*) is its password`,
  conflict: () => 'the server refused the domain: another component is connected for it, or it is also listed in ejabberd hosts:',
  'host-unknown': () => 'the server does not know this domain: add it under hosts: of the ejabberd_service listener',
  'invalid-from': () => 'the server refused our from address: link.domain must match the listener hosts: entry',
  'improper-addressing': () => 'the server refused our addressing: link.domain must match the listener hosts: entry',
};

const PROSODY: Record<string, (domain: string) => string> = {
  'not-authorized': (d) =>
    `Prosody refused the handshake: the secret (link.secret_*) must be the component_secret of Component "${d}" in the Prosody configuration`,
  conflict: (d) => `Prosody refused the domain: another component is already connected for ${d} (Prosody accepts one connection per Component)`,
  'host-unknown': (d) => `Prosody has no Component "${d}": add Component "${d}" with component_secret = "…" to its configuration and reload Prosody`,
  'invalid-from': (d) => `Prosody refused our from address: link.domain must be exactly the name of the Component "${d}" entry`,
  'improper-addressing': (d) => `Prosody refused our addressing: link.domain must be exactly the name of the Component "${d}" entry`,
};

/** One line saying what to fix, for the server we are connected to (both servers' settings when unknown). */
export function fatalHint(kind: ServerKind, condition: string, domain: string): string {
  if (kind === 'ejabberd') return EJABBERD[condition]?.(domain) ?? condition;
  if (kind === 'prosody') return PROSODY[condition]?.(domain) ?? condition;
  const e = EJABBERD[condition]?.(domain);
  const p = PROSODY[condition]?.(domain);
  return e && p ? `${e}; on Prosody: ${p}` : condition;
}

/**
 * The largest stanza the server accepts from a component, when the configuration does not say:
 * Prosody closes the stream (`not-well-formed`) past `component_stanza_size_limit`, 512 KiB by default;
 * ejabberd's `ejabberd_service` listener has no limit unless `max_stanza_size` is set.
 */
export function defaultMaxStanzaBytes(kind: ServerKind): number | null {
  return kind === 'prosody' ? 512 * 1024 : null;
}
