/**
 * Options of the adapters, validated with zod: one schema per kind, `.strict()` so that a misspelt key
 * is refused, and every failure turned into an `OptionsError` naming the key (`subscriptions[0].topic`).
 */
import { z } from 'zod';
import { isAbsolute } from 'node:path';
import { OptionsError } from '../contract.js';
import { hasCredentials } from './urls.js';

/** Parses `raw` with `schema`; the first problem becomes an OptionsError naming its key. */
export function parseOptionsWith<S extends z.ZodTypeAny>(kind: string, schema: S, raw: Record<string, unknown>): z.output<S> {
  const secret = Object.keys(raw).find((k) => INLINE_SECRETS.has(k));
  if (secret) throw new OptionsError(secret, `secrets are never written inline: use ${secret}_file (a file readable by fedgate only) or ${secret}_env (an environment variable)`);
  const withCredentials = Object.entries(raw).find(([, v]) => typeof v === 'string' && hasCredentials(v));
  if (withCredentials) throw new OptionsError(withCredentials[0], 'a URL never carries a user or password: give them in the username and *_file / *_env options');
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = keyPath([...issue.path, issue.keys[0]!]);
    throw new OptionsError(key, `unknown option of ${kind}${INLINE_SECRETS.has(String(issue.keys[0])) ? ' (secrets go in a _file or _env option)' : ''}`);
  }
  throw new OptionsError(keyPath(issue.path) || '(options)', issue.message);
}

function keyPath(path: ReadonlyArray<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Keys that would hold a secret in clear: refused everywhere, whatever the kind. */
const INLINE_SECRETS = new Set(['password', 'token', 'secret', 'client_secret', 'api_key', 'passphrase']);

/** A path to a file holding a secret or a certificate: absolute (the worker's folder is not the config's). */
export const absolutePath = z.string().refine((p) => isAbsolute(p), 'must be an absolute path');

/** What the name of an environment variable may be: one rule for adapter options and the config's secret_env. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The name of an environment variable. */
export const envName = z.string().regex(ENV_NAME, 'must be the name of an environment variable, e.g. METERS_PASSWORD');

/** Milliseconds with a floor, so that a typo (`5` meant as seconds) is caught. */
export const millis = (min: number, dflt: number) => z.number().int().min(min, `must be at least ${min} ms`).default(dflt);
