/**
 * Structured logs (pino). The secret never reaches a log line: it is not passed to loggers, and the
 * keys that could hold it are redacted anyway.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level: string; format: 'json' | 'pretty'; name?: string }): Logger {
  const base = {
    level: opts.level,
    name: opts.name ?? 'fedgate',
    redact: { paths: ['secret', '*.secret', 'password', '*.password', 'config.secret'], censor: '[redacted]' },
  };
  if (opts.format === 'pretty') {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, destination: 2, ignore: 'pid,hostname' } } });
  }
  return pino(base, pino.destination({ fd: 2, sync: true }));
}
