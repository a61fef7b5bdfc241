/**
 * What a failed inbox commit (data, erasure messages) answers the sender, and logs. A full or failing
 * disk, a file made read-only, is the receiver's trouble, not the message's: `resource-constraint`
 * (wait), which a fedgate sender retries without ever dead-lettering; the log names the file. Anything
 * else is an `internal-server-error` (wait): retried, then dead-lettered by the sender.
 */
import { StanzaError } from '../xmpp/stanza-error.js';
import { describeSqliteError, isStorageFault } from '../store/sqlite-errors.js';

export function commitFailure(err: unknown, dbPath: string): { reply: StanzaError; log: string } {
  if (isStorageFault(err)) {
    return {
      reply: new StanzaError('resource-constraint', 'the gateway cannot store data now (its disk is full or failing); retry later', { type: 'wait' }),
      log: describeSqliteError(err as Error & { code: string }, dbPath),
    };
  }
  return { reply: new StanzaError('internal-server-error', 'the gateway could not store this message; retry later', { type: 'wait' }), log: (err as Error).message };
}
