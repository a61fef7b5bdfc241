/**
 * The digest the log and the signed statements use for data: SHA-256 in lower-case hex, as `sha256sum`
 * prints it, over the UTF-8 bytes of a payload as ltx serializes it (the canonical form both gateways
 * can compute: the receiver from the element it parsed, the sender from the same serializer).
 */
import { sha256 } from './merkle.js';

export function sha256Hex(text: string): string {
  return sha256(Buffer.from(text, 'utf8')).toString('hex');
}
