/**
 * The application registry: one row per application served on the subdomain, its adapter kind and
 * the adapter's options. Written by the CLI, read by the running gateway (the change feed's `apps` topic
 * says which app changed).
 */
import { deadLetterAllOrphanedInbox } from '../transfer/dead-letters.js';
import type { Db } from '../store/database.js';
import { LOCALPART_RE } from '../xmpp/jid.js';
import { adapterModule } from '../../adapters/index.js';
import type { AdapterModule, Isolation } from '../../adapters/contract.js';
import { ConsentStore, type Actor } from '../consent/consent-store.js';
import { traceOf } from '../trace/trace.js';

export interface AppRecord {
  name: string;
  kind: string;
  options: Record<string, unknown>;
  description: string;
  createdAt: number;
  updatedAt: number;
}

interface AppRow {
  name: string;
  kind: string;
  options: string;
  description: string;
  created_at: number;
  updated_at: number;
}

/**
 * Options the core reads itself, beside the adapter's own: `isolation` (`shared` | `own`) chooses
 * where the app's adapter runs — with other apps in the shared worker pool, or in a worker of its own.
 * Absent, the adapter module's default applies (see `Isolation` in adapters/contract.ts).
 */
export function coreOptions(options: Record<string, unknown>): { isolation?: Isolation; adapter: Record<string, unknown> } {
  const { isolation, ...adapter } = options;
  if (isolation === undefined) return { adapter };
  if (isolation !== 'shared' && isolation !== 'own') throw new RegistryError(`option isolation: must be "shared" or "own", got ${JSON.stringify(isolation)}`);
  return { isolation, adapter };
}

/** The app's options as its adapter module reads them (checked by it; the core's own options left out). */
export function adapterOptions<O>(module: AdapterModule<O>, options: Record<string, unknown>): O {
  return module.parseOptions(coreOptions(options).adapter);
}

/** Where this app's adapter runs: its `isolation` option, else its kind's default, else its own worker. */
export function isolationOf(app: Pick<AppRecord, 'kind' | 'options'>): Isolation {
  return coreOptions(app.options).isolation ?? adapterModule(app.kind).isolation ?? 'own';
}

export class RegistryError extends Error {
  override name = 'RegistryError';
}

function toRecord(r: AppRow): AppRecord {
  return {
    name: r.name,
    kind: r.kind,
    options: JSON.parse(r.options) as Record<string, unknown>,
    description: r.description,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export class AppRegistry {
  constructor(private readonly db: Db) {}

  list(): AppRecord[] {
    return (this.db.prepare('SELECT * FROM apps ORDER BY name').all() as AppRow[]).map(toRecord);
  }

  get(name: string): AppRecord | undefined {
    const row = this.db.prepare('SELECT * FROM apps WHERE name = ?').get(name) as AppRow | undefined;
    return row && toRecord(row);
  }

  /** Adds an app after checking its name, kind and options (the adapter validates its own options). */
  add(app: { name: string; kind: string; options?: Record<string, unknown>; description?: string }): AppRecord {
    const name = app.name.toLowerCase();
    if (!LOCALPART_RE.test(name)) {
      throw new RegistryError(`invalid app name "${app.name}": use 1-63 characters among a-z 0-9 . _ - , starting with a letter or digit`);
    }
    const options = this.checkOptions(app.kind, app.options ?? {});
    const now = Date.now();
    try {
      this.db.transaction(() => {
        this.db
          .prepare('INSERT INTO apps (name, kind, options, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(name, app.kind, JSON.stringify(options), app.description ?? '', now, now);
        // Options may hold credentials: the log says that they changed, never what they are.
        traceOf(this.db).write('app.added', { app: name, adapter: app.kind, by: traceOf(this.db).actor });
      }).immediate();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new RegistryError(`app "${name}" already exists`);
      throw err;
    }
    return this.get(name)!;
  }

  /** Replaces an app's options and/or description; the running gateway restarts its worker. */
  update(name: string, patch: { options?: Record<string, unknown>; description?: string }): AppRecord {
    const current = this.get(name);
    if (!current) throw new RegistryError(`no app named "${name}"`);
    const options = patch.options ? this.checkOptions(current.kind, patch.options) : current.options;
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE apps SET options = ?, description = ?, updated_at = ? WHERE name = ?')
        .run(JSON.stringify(options), patch.description ?? current.description, Date.now(), name);
      const changed = [...(patch.options ? ['options'] : []), ...(patch.description !== undefined ? ['description'] : [])];
      traceOf(this.db).write('app.changed', { app: name, changed, by: traceOf(this.db).actor });
    }).immediate();
    return this.get(name)!;
  }

  /**
   * Removes an app; its open consent records are invalidated (kept as evidence), its owners and rules
   * go. Then what its inbox still held for it is moved to the dead letters with the reason, a page at a
   * time — acknowledged to its senders, it must not wait there for ever unseen: `dead-letter retry`
   * applies it once the app is added again (a removal cut short is finished by the housekeeping job).
   */
  remove(name: string, actor: Actor = { id: 'operator', role: 'operator', evidence: { via: 'app remove' } }): void {
    this.db.transaction(() => {
      const { changes } = this.db.prepare('DELETE FROM apps WHERE name = ?').run(name);
      if (changes === 0) throw new RegistryError(`no app named "${name}"`);
      new ConsentStore(this.db).invalidateApp(name, actor);
      traceOf(this.db).write('app.removed', { app: name, by: traceOf(this.db).actor });
    }).immediate();
    // Then its inbox, a page per transaction (100,000 rows in one held the running gateway's writers for 14 s).
    deadLetterAllOrphanedInbox(this.db);
  }

  private checkOptions(kind: string, options: Record<string, unknown>): Record<string, unknown> {
    const { isolation, adapter } = coreOptions(options);
    let module;
    try {
      module = adapterModule(kind);
    } catch (err) {
      throw new RegistryError((err as Error).message);
    }
    try {
      return { ...(module.parseOptions(adapter) as Record<string, unknown>), ...(isolation && { isolation }) };
    } catch (err) {
      throw new RegistryError(`app of kind ${kind}: ${(err as Error).message}`);
    }
  }
}
