/** What every CLI command needs: the configuration and the database, opened once. */
import { loadConfig, defaultConfigPath, ConfigError } from '../config/load.js';
import { openDatabase, type Db } from '../store/database.js';
import type { Config } from '../config/schema.js';

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

export function openContext(configPath: string | undefined, opts: { needSecret?: boolean } = {}): CliContext {
  let config: Config;
  try {
    config = loadConfig(configPath ?? defaultConfigPath(), process.env, { needSecret: opts.needSecret ?? false });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  return { config, db: openDatabase(config.database.path, { synchronous: config.database.synchronous }) };
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

export function printJsonOrTable(json: boolean, value: unknown, table: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : table());
}

export function formatTable(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
