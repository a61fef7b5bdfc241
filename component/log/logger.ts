/**
 * Structured logs (pino) on stderr. Times are ISO 8601 UTC (`"time":"2024-01-01T00:00:00.000Z"`),
 * readable in a journal and sortable. `pretty` is for humans: colours only when stderr is a terminal,
 * so that a file or the journal never gets escape codes. The secret never reaches a log line: it is
 * not passed to loggers, and the keys that could hold it are redacted anyway.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level: string; format: 'json' | 'pretty'; name?: string }): Logger {
  const base = {
    level: opts.level,
    name: opts.name ?? 'fedgate',
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['secret', '*.secret', 'password', '*.password', 'config.secret'], censor: '[redacted]' },
  };
  if (opts.format === 'pretty') {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: process.stderr.isTTY === true, destination: 2, ignore: 'pid,hostname', translateTime: 'UTC:yyyy-mm-dd"T"HH:MM:ss.l"Z"' },
      },
    });
  }
  return pino(base, pino.destination({ fd: 2, sync: true }));
}

/** The logger of a worker thread: JSON on stderr, ISO times, named after the worker. */
export function createWorkerLogger(level: string, name: string): Logger {
  return pino({ level, name, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: true }));
}
