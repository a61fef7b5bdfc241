/**
 * Loads the YAML configuration, validates it, and resolves the secret from a file or the environment.
 * Any problem is a ConfigError whose message names the offending key: fedgate fails fast on bad config.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve, isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function defaultConfigPath(env = process.env): string {
  return env.FEDGATE_CONFIG ?? 'fedgate.yml';
}

export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, opts: { needSecret?: boolean } = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read configuration file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  const baseDir = dirname(resolve(path));
  return validateConfig(raw, { baseDir, env, source: path, needSecret: opts.needSecret ?? true });
}

export function validateConfig(
  raw: unknown,
  opts: { baseDir: string; env: NodeJS.ProcessEnv; source: string; needSecret: boolean },
): Config {
  if (raw && typeof raw === 'object' && 'link' in raw && raw.link && typeof raw.link === 'object' && 'secret' in raw.link) {
    throw new ConfigError(`${opts.source}: link.secret: secrets are not accepted inline; use link.secret_file or the variable named by link.secret_env`);
  }
  const parsed = ConfigSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = i.path.join('.') || '(top level)';
      const msg = i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.join(', ')}` : i.message;
      return `${key}: ${msg}`;
    });
    throw new ConfigError(`${opts.source}: ${lines.join('; ')}`);
  }
  const file = parsed.data;
  const within = (p: string) => (isAbsolute(p) ? p : resolve(opts.baseDir, p));
  const secret = opts.needSecret ? readSecret(file.link.secret_file, file.link.secret_env, opts) : '';
  return {
    ...file,
    database: { ...file.database, path: within(file.database.path) },
    trace: { ...file.trace, key_file: within(file.trace.key_file) },
    baseDir: opts.baseDir,
    secret,
  };
}

function readSecret(
  file: string | undefined,
  envName: string,
  opts: { baseDir: string; env: NodeJS.ProcessEnv; source: string },
): string {
  let secret: string | undefined;
  let origin: string;
  if (file) {
    const p = isAbsolute(file) ? file : resolve(opts.baseDir, file);
    origin = `link.secret_file (${p})`;
    try {
      secret = readFileSync(p, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${origin}: cannot read: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  } else {
    origin = `link.secret_env (environment variable ${envName})`;
    secret = opts.env[envName];
  }
  if (!secret) throw new ConfigError(`${origin}: no secret found; set it to the password of the ejabberd_service listener`);
  // The handshake hashes the secret as latin1 (XEP-0114): anything outside printable ASCII breaks it silently.
  if (!/^[\x21-\x7e]+$/.test(secret)) throw new ConfigError(`${origin}: the secret must be printable ASCII without spaces`);
  return secret;
}
