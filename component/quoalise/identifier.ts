/**
 * Series identifiers: RFC 9039 device URNs, with `_` separating the device from the series path
 * (`urn:dev:prm:00000000000000_consumption/power/active/raw`), and Zabbix items
 * (`urn:dev:org:60060-<org>:<itemid>`). Strict about structure, permissive about the path's words.
 */
import { QuoaliseFormatError } from './errors.js';

/** A malformed series identifier; the message is meant for the requester (`bad-request` text). */
export class IdentifierError extends QuoaliseFormatError {
  override name = 'IdentifierError';
}

export interface SeriesIdentifier {
  /** The device URN, e.g. `urn:dev:prm:00000000000000`. */
  device: string;
  /** The series path after `_`, e.g. `consumption/power/active/raw`; null when there is none. */
  path: string | null;
}

/** The longest series identifier (also what a data message may name: intake refuses longer ones before logging them). */
export const MAX_IDENTIFIER_LENGTH = 512;
const MAX_LENGTH = MAX_IDENTIFIER_LENGTH;
const PREFIX = 'urn:dev:';
const TYPE = /^[a-z][a-z0-9]*$/;
const ID_SEGMENT = /^[A-Za-z0-9.-]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;
// Per device type, the extra shape the federation relies on.
const DEVICE_ID: Record<string, { pattern: RegExp; expected: string }> = {
  prm: { pattern: /^\d{14}$/, expected: '14 digits' },
  org: { pattern: /^\d+-[^:]+(?::.+)?$/, expected: '<enterprise number>-<organisation>[:<item>]' },
};

function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s);
}

/** Splits and checks a series identifier. Throws IdentifierError, with a human message, when malformed. */
export function parseIdentifier(s: string): SeriesIdentifier {
  if (typeof s !== 'string' || s === '') throw new IdentifierError('the identifier is empty');
  if (s.length > MAX_LENGTH) throw new IdentifierError(`the identifier is longer than ${MAX_LENGTH} characters`);
  if (/[\s\u0000-\u001F\u007F-\u009F]/.test(s)) {
    throw new IdentifierError(`the identifier ${quote(s)} contains whitespace or a control character`);
  }
  if (!s.startsWith(PREFIX)) {
    throw new IdentifierError(`the identifier ${quote(s)} must be a device URN starting with "${PREFIX}"`);
  }
  const rest = s.slice(PREFIX.length);
  const underscore = rest.indexOf('_');
  const body = underscore < 0 ? rest : rest.slice(0, underscore);
  const path = underscore < 0 ? null : rest.slice(underscore + 1);

  const colon = body.indexOf(':');
  const type = colon < 0 ? body : body.slice(0, colon);
  const id = colon < 0 ? '' : body.slice(colon + 1);
  if (!TYPE.test(type)) {
    throw new IdentifierError(`the identifier ${quote(s)} needs a device type after "${PREFIX}" (lower-case letters and digits, e.g. "prm")`);
  }
  if (id === '') throw new IdentifierError(`the identifier ${quote(s)} has no device id after "${PREFIX}${type}:"`);
  for (const segment of id.split(':')) {
    if (!ID_SEGMENT.test(segment)) {
      throw new IdentifierError(`the device id ${quote(id)} in ${quote(s)} has an empty part or a character other than letters, digits, "-" and "."`);
    }
  }
  const rule = DEVICE_ID[type];
  if (rule !== undefined && !rule.pattern.test(id)) {
    throw new IdentifierError(`a "${type}" device id must be ${rule.expected}, got ${quote(id)}`);
  }

  if (path !== null) {
    if (path === '') throw new IdentifierError(`the identifier ${quote(s)} ends with "_" but has no series path after it`);
    for (const segment of path.split('/')) {
      if (!PATH_SEGMENT.test(segment) || segment === '.' || segment === '..') {
        throw new IdentifierError(
          `the series path ${quote(path)} has an empty, "." or ".." part, or a character other than letters, digits, "/", "-", "_" and "."`,
        );
      }
    }
  }
  return { device: PREFIX + body, path };
}
