/**
 * Who decides: data subjects (bound to the series about them, and to the JID through which they
 * decide) and app owners (who decide for the app's series about no subject). Written by the CLI, read
 * when a request arrives and when someone tries to decide — never on the authorization path.
 */
import type { Db } from '../store/database.js';
import { normalizeRequester, RequesterPatternError } from '../authz/requester-pattern.js';
import { patternCovers, patternsOverlap } from '../transfer/series-pattern.js';
import type { SubjectSource } from '../authz/authorizer.js';

export class PartyError extends Error {
  override name = 'PartyError';
}

export interface Subject {
  name: string;
  jid: string | null;
  series: string[];
  createdAt: number;
}

const SUBJECT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** A bare JID with a localpart (a person or an organisation's account), lower-cased. */
export function personJid(s: string, what: string): string {
  let jid: string;
  try {
    jid = normalizeRequester(s);
  } catch (err) {
    if (err instanceof RequesterPatternError) throw new PartyError(`${what} "${s}" must be a bare JID such as alice@example.net`);
    throw err;
  }
  if (jid.startsWith('*')) throw new PartyError(`${what} "${s}" must be a bare JID such as alice@example.net, not a domain`);
  return jid;
}

/** Longer series or globs are refused: matching two patterns costs the product of their lengths. */
export const MAX_SERIES_LENGTH = 512;

export function checkSeries(series: string): string {
  if (series.length > MAX_SERIES_LENGTH) throw new PartyError(`series "${series.slice(0, 60)}…" is longer than ${MAX_SERIES_LENGTH} characters`);
  if (!series || /\s/.test(series)) throw new PartyError(`series "${series}" must be an identifier or a glob without spaces`);
  return series;
}

/** Which subject a request for `series` concerns, given every subject's series. `mixed` names the first two it touches. */
export type Concern = { kind: 'none' } | { kind: 'subject'; subject: string } | { kind: 'mixed'; subjects: string[] };

export function concernOf(series: string, subjects: ReadonlyArray<{ name: string; series: string[] }>): Concern {
  // Two subjects touched settle it (mixed): a broad glob from a stranger stops there, not at the last subject.
  const touched: Array<{ name: string; series: string[] }> = [];
  for (const s of subjects) {
    if (!s.series.some((g) => patternsOverlap(g, series))) continue;
    touched.push(s);
    if (touched.length === 2) break;
  }
  if (touched.length === 0) return { kind: 'none' };
  // One subject, and nothing but theirs: they decide. Anything else must be asked in parts.
  if (touched.length === 1 && touched[0]!.series.some((g) => patternCovers(g, series))) return { kind: 'subject', subject: touched[0]!.name };
  return { kind: 'mixed', subjects: touched.map((s) => s.name) };
}

export class Parties implements SubjectSource {
  /** The subjects as last read, and the `subjects_version` they were read at (see `concern`). */
  private cached: { version: number; subjects: Subject[] } | null = null;

  constructor(private readonly db: Db) {}

  /** Changes with every change to subjects and their series (schema/010_gdpr_rights.sql). */
  subjectsVersion(): number {
    return this.db.prepare('SELECT version FROM subjects_version WHERE id = 1').pluck().get() as number;
  }

  /** The subjects who have a JID: they may read their own series. */
  boundSubjects(): Array<{ name: string; jid: string; series: string[] }> {
    return this.subjects().filter((s): s is Subject & { jid: string } => s.jid !== null);
  }

  addSubject(name: string, series: string[], jid: string | null): Subject {
    if (!SUBJECT_NAME.test(name)) throw new PartyError(`invalid subject name "${name}": use 1-63 characters among a-z 0-9 . _ - , starting with a letter or digit`);
    if (series.length === 0) throw new PartyError('give at least one --series (the identifiers or globs of the series about this subject)');
    const who = jid === null ? null : personJid(jid, 'the subject\'s JID');
    this.db.transaction(() => {
      if (this.db.prepare('SELECT 1 FROM subjects WHERE name = ?').get(name)) throw new PartyError(`subject "${name}" already exists`);
      this.db.prepare('INSERT INTO subjects (name, jid, created_at) VALUES (?, ?, ?)').run(name, who, Date.now());
      for (const s of new Set(series)) this.db.prepare('INSERT INTO subject_series (subject, series) VALUES (?, ?)').run(name, checkSeries(s));
    }).immediate();
    return this.subject(name)!;
  }

  subject(name: string): Subject | undefined {
    return this.subjects().find((s) => s.name === name);
  }

  subjects(): Subject[] {
    const series = new Map<string, string[]>();
    for (const r of this.db.prepare('SELECT subject, series FROM subject_series ORDER BY subject, series').all() as Array<{ subject: string; series: string }>) {
      let l = series.get(r.subject);
      if (!l) series.set(r.subject, (l = []));
      l.push(r.series);
    }
    return (this.db.prepare('SELECT name, jid, created_at AS createdAt FROM subjects ORDER BY name').all() as Array<Omit<Subject, 'series'>>).map((s) => ({
      ...s,
      series: series.get(s.name) ?? [],
    }));
  }

  /** Removes a subject; records about them stay (their past decisions stand). */
  removeSubject(name: string): void {
    if (this.db.prepare('DELETE FROM subjects WHERE name = ?').run(name).changes === 0) throw new PartyError(`no subject named "${name}"`);
  }

  /** The subjects this JID decides for. */
  subjectsOf(jid: string): string[] {
    return this.db.prepare('SELECT name FROM subjects WHERE jid = ? ORDER BY name').pluck().all(jid) as string[];
  }

  subjectJid(name: string): string | null {
    return (this.db.prepare('SELECT jid FROM subjects WHERE name = ?').pluck().get(name) as string | null | undefined) ?? null;
  }

  /** Which subject a request for `series` concerns. */
  concern(series: string): Concern {
    // Asked on the XMPP thread by anyone's request_access: the subjects are read again only when they changed.
    const version = this.subjectsVersion();
    if (this.cached?.version !== version) this.cached = { version, subjects: this.subjects() };
    return concernOf(series, this.cached.subjects);
  }

  /** Replaces an app's owners (without touching the app itself: its worker keeps running). */
  setOwners(app: string, jids: string[]): string[] {
    const owners = [...new Set(jids.map((j) => personJid(j, 'owner')))];
    this.db.transaction(() => {
      if (!this.db.prepare('SELECT 1 FROM apps WHERE name = ?').get(app)) throw new PartyError(`no app named "${app}"`);
      this.db.prepare('DELETE FROM app_owners WHERE app = ?').run(app);
      for (const o of owners) this.db.prepare('INSERT INTO app_owners (app, jid) VALUES (?, ?)').run(app, o);
    }).immediate();
    return owners;
  }

  owners(app: string): string[] {
    return this.db.prepare('SELECT jid FROM app_owners WHERE app = ? ORDER BY jid').pluck().all(app) as string[];
  }

  /** The apps this JID owns. */
  ownedBy(jid: string): string[] {
    return this.db.prepare('SELECT app FROM app_owners WHERE jid = ? ORDER BY app').pluck().all(jid) as string[];
  }

  /** The JIDs that decide for a record of `app` about `subject` (none: only the operator can). */
  deciders(app: string, subject: string | null): string[] {
    if (subject !== null) {
      const jid = this.subjectJid(subject);
      return jid === null ? [] : [jid];
    }
    return this.owners(app);
  }
}
