/** What every CLI command needs: the configuration and the database, opened once; shared argument and error handling. */
import type { Command } from 'commander';
import { loadConfig, defaultConfigPath, ConfigError } from '../config/load.js';
import { openDatabase, type Db } from '../store/database.js';
import type { Config } from '../config/schema.js';
import { DatabaseError } from '../store/sqlite-errors.js';
import { jsonList, withIsoTimes } from './json.js';
import { hostname, userInfo } from 'node:os';
import { parseIsoWithOffset, TimeFormatError } from '../quoalise/time.js';
import type { Actor } from '../consent/consent-store.js';
import { configureTrace } from '../trace/trace.js';

export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export interface CliContext {
  config: Config;
  db: Db;
}

/** The configuration alone (a bad one: exit 2). */
export function loadCliConfig(configPath: string | undefined, opts: { needSecret?: boolean } = {}): Config {
  try {
    return loadConfig(configPath ?? defaultConfigPath(), process.env, { needSecret: opts.needSecret ?? false });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
}

export function openContext(configPath: string | undefined, opts: { needSecret?: boolean } = {}): CliContext {
  const config = loadCliConfig(configPath, opts);
  let db: Db;
  try {
    db = openDatabase(config.database.path, { synchronous: config.database.synchronous });
  } catch (err) {
    // An unreadable, read-only or damaged file is a problem of the set-up: exit 2, the file named.
    if (err instanceof DatabaseError) throw new CliError(err.message, 2);
    throw err;
  }
  // Operator changes made from the shell are logged as such, with the account that made them.
  configureTrace(db, { enabled: config.trace.enabled, actor: `operator ${account()}` });
  return { config, db };
}

/** The shell account running the command (an account without a passwd entry has its uid). */
function account(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

/** The context of a sub-command, from the global `--config` option. */
export function contextOf(cmd: Command): CliContext {
  return openContext(cmd.optsWithGlobals<{ config?: string }>().config);
}

/** The configuration of a command that must not open the database. */
export function configOf(cmd: Command): Config {
  return loadCliConfig(cmd.optsWithGlobals<{ config?: string }>().config);
}

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Runs an operation whose expected failures (the given error classes: unknown app, duplicate, …) are
 * the user's to fix: they become a one-line message and exit code 1. Anything else is a bug and propagates.
 */
export function operation<T>(fn: () => T, ...expected: ErrorClass[]): T {
  try {
    return fn();
  } catch (err) {
    if (expected.some((E) => err instanceof E)) throw new CliError((err as Error).message, 1);
    throw err;
  }
}

/** A positive integer argument (ids, limits, batch sizes); a usage error (exit 2) otherwise. */
export function intArg(s: string, what = 'id'): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n <= 0) throw new CliError(`${what} must be a positive integer, got "${s}"`, 2);
  return n;
}

/** An ISO 8601 instant with offset, as ms since the epoch; a usage error otherwise. */
export function instant(flag: string) {
  return (s: string): number => {
    try {
      return Math.round(parseIsoWithOffset(s) * 1000);
    } catch (err) {
      if (err instanceof TimeFormatError) throw new CliError(`${flag}: ${err.message}`, 2);
      throw err;
    }
  };
}

/** The operator at this shell, as the actor of consent events: the evidence is the account, the host and the command. */
export function operator(cmd: Command): Actor {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  return { id: 'operator', role: 'operator', evidence: { via: 'cli', user: account(), host: hostname(), command: [...names, ...cmd.args].join(' ') } };
}

/** A time for tables: ISO 8601 UTC to the second, or `-`. */
export function when(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `key=value` → [key, value]; the value is JSON when it parses as JSON (numbers, booleans), else a string. */
export function parseOption(s: string, acc: Record<string, unknown>): Record<string, unknown> {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new CliError(`--option expects key=value, got "${s}"`, 2);
  const key = s.slice(0, eq);
  const raw = s.slice(eq + 1);
  let value: unknown = raw;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) value = parsed;
  } catch {
    /* a plain string */
  }
  return { ...acc, [key]: value };
}

/** An object as `--json` (times in ISO 8601), or the table. */
export function printJsonOrTable(json: boolean, value: unknown, table: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(withIsoTimes(value), null, 2)}\n` : table());
}

/** A listing as `--json` — `{ "total": N, "rows": [...] }`, the one shape of every listing — or the table. */
export function printListOrTable(json: boolean, rows: unknown[], table: () => string, total = rows.length): void {
  printJsonOrTable(json, jsonList(rows, total), table);
}

export function formatTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
