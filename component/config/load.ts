/**
 * Loads the YAML configuration, validates it, and resolves the secret from a file or the environment.
 * Any problem is a ConfigError whose message names the offending key: fedgate fails fast on bad config.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve, isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, formatHostPort, parseHostPort, type Config } from './schema.js';

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
    // The parser's message quotes the offending line, which may hold a secret: the position only.
    const pos = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    throw new ConfigError(`${path}: not valid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''} (${(err as { code?: string }).code ?? 'syntax error'})`);
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
  if (file.link.hosts && (file.link.host !== undefined || file.link.port !== undefined)) {
    throw new ConfigError(`${opts.source}: link.hosts replaces link.host and link.port: give either hosts, or host and port`);
  }
  const servers = file.link.hosts?.map(parseHostPort) ?? [{ host: file.link.host ?? '127.0.0.1', port: file.link.port ?? 5347 }];
  const badPort = servers.find((s) => s.port < 1 || s.port > 65535);
  if (badPort) throw new ConfigError(`${opts.source}: link.hosts: port ${badPort.port} is not between 1 and 65535`);
  const within = (p: string) => (isAbsolute(p) ? p : resolve(opts.baseDir, p));
  const secret = opts.needSecret ? readSecret(file.link.secret_file, file.link.secret_env, opts) : '';
  const warnings: string[] = [];
  if (opts.needSecret && file.link.secret_file) {
    const p = within(file.link.secret_file);
    // Anyone who can read the secret can connect as this gateway and send as any of its apps.
    if ((statSync(p).mode & 0o004) !== 0) warnings.push(`link.secret_file (${p}) is readable by every user of this machine: chmod 0640 it (owner root, group fedgate) or 0600`);
  }
  // Both are allowed off loopback (a cluster, a monitoring host), but neither is protected on the wire.
  for (const s of servers.filter((s) => !isLoopback(s.host))) {
    warnings.push(`link: ${formatHostPort(s)} is not a loopback address: the XEP-0114 link is not encrypted, every stanza crosses the network in clear; keep it on a private network`);
  }
  const listen = file.metrics.listen;
  if (listen !== undefined && !isLoopback(parseHostPort(listen).host)) {
    warnings.push(`metrics.listen (${listen}) is not a loopback address: the metrics and the status page have no authentication; put them behind a proxy that has`);
  }
  return {
    ...file,
    servers,
    database: { ...file.database, path: within(file.database.path) },
    trace: { ...file.trace, key_file: within(file.trace.key_file) },
    baseDir: opts.baseDir,
    secret,
    warnings,
  };
}

/** 127.0.0.0/8, ::1 and `localhost`; anything else (a name, a private address) may be reached from elsewhere. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
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
