/**
 * The last key each peer domain was seen publishing (schema/014_peer_signers.sql), for PeerKeys: in
 * memory, written through to SQLite so that it outlives a restart. On the XMPP thread: a write that
 * meets a busy database is left to the next look-up (the memory holds it meanwhile).
 */
import type { Db } from '../store/database.js';
import { withoutBusyWait } from '../store/database.js';
import type { PublishedKey } from './disco.js';
import type { RememberedSigners } from './peer-keys.js';

/** Bounds the memory (and the table) a crowd of signing domains can take. */
const MAX_SIGNERS = 10_000;

export class PeerSigners implements RememberedSigners {
  private readonly known = new Map<string, PublishedKey>();

  constructor(private readonly db: Db) {
    const rows = db.prepare('SELECT domain, published FROM trace_peer_signers ORDER BY learnt_at DESC LIMIT ?').all(MAX_SIGNERS) as Array<{ domain: string; published: string }>;
    for (const r of rows.reverse()) {
      try {
        this.known.set(r.domain, JSON.parse(r.published) as PublishedKey);
      } catch {
        // A row that does not read: as if never seen.
      }
    }
  }

  get(domain: string): PublishedKey | undefined {
    return this.known.get(domain);
  }

  set(domain: string, key: PublishedKey | null): void {
    if (key === null && !this.known.has(domain)) return;
    if (key) {
      // Least recently learnt first out, as in the table.
      if (!this.known.delete(domain) && this.known.size >= MAX_SIGNERS) this.known.delete(this.known.keys().next().value!);
      this.known.set(domain, key);
    } else this.known.delete(domain);
    try {
      withoutBusyWait(this.db, () => {
        if (key) {
          this.db
            .prepare('INSERT INTO trace_peer_signers (domain, published, learnt_at) VALUES (?, ?, ?) ON CONFLICT (domain) DO UPDATE SET published = excluded.published, learnt_at = excluded.learnt_at')
            .run(domain, JSON.stringify({ origin: key.origin, keys: key.keys, signs: key.signs }), Date.now());
          this.db.prepare(`DELETE FROM trace_peer_signers WHERE domain IN (SELECT domain FROM trace_peer_signers ORDER BY learnt_at DESC LIMIT -1 OFFSET ${MAX_SIGNERS})`).run();
        } else this.db.prepare('DELETE FROM trace_peer_signers WHERE domain = ?').run(domain);
      });
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    }
  }
}
