/**
 * Secrets of adapters (passwords, tokens, client secrets) come from a file or an environment variable,
 * never from the options themselves (the registry is readable by `fedgate app show`), and are never
 * logged: only where they came from is ever printed.
 */
import { readFileSync } from 'node:fs';
import { OptionsError } from '../contract.js';

export interface SecretSource {
  /** Absolute path of a file holding the secret (trailing newline ignored). */
  file?: string | undefined;
  /** Name of an environment variable holding it. */
  env?: string | undefined;
}

/**
 * Reads the secret named `key` (`password` → options `password_file` / `password_env`). Returns
 * undefined when neither is set; throws OptionsError when the source is set but empty or unreadable.
 */
export function readSecret(key: string, source: SecretSource): string | undefined {
  if (source.file) {
    let text: string;
    try {
      text = readFileSync(source.file, 'utf8');
    } catch (err) {
      throw new OptionsError(`${key}_file`, `cannot read ${source.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const secret = text.replace(/\r?\n$/, '');
    if (secret === '') throw new OptionsError(`${key}_file`, `${source.file} is empty`);
    return secret;
  }
  if (source.env) {
    const secret = process.env[source.env];
    if (secret === undefined || secret === '') throw new OptionsError(`${key}_env`, `the environment variable ${source.env} is not set`);
    return secret;
  }
  return undefined;
}
