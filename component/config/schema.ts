/**
 * The configuration file's shape, defaults and validation. Keys are snake_case as in the YAML file;
 * an unknown or ill-typed key fails start-up with a message that names it.
 */
import { z } from 'zod';
import { DurationError, parseCalendarDuration } from '../consent/duration.js';
import { normalizeRequester } from '../authz/requester-pattern.js';
import { ENV_NAME } from '../../adapters/common/options.js';

const seconds = z.number().positive();
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):\d{1,5}$/;
/** `host:port` (an IPv6 host in brackets), the port within 1–65535; `example` shows the expected form. */
const hostPort = (example: string) =>
  z
    .string()
    .regex(HOST_PORT, `must be host:port, e.g. ${example}`)
    .refine((s) => {
      const port = Number(s.slice(s.lastIndexOf(':') + 1));
      return port >= 1 && port <= 65535;
    }, 'the port must be between 1 and 65535');

export const ConfigSchema = z
  .object({
    link: z
      .object({
        /** Address of the server's component listener. Loopback: the XEP-0114 link is unencrypted. */
        host: z.string().min(1).optional(),
        port: z.number().int().min(1).max(65535).optional(),
        /**
         * Several listeners (`host:port`), e.g. the nodes of an ejabberd cluster: fedgate connects to one
         * and moves to the next whenever a connection fails or is lost. Replaces host and port.
         */
        hosts: z
          .array(hostPort('10.0.0.2:5347'))
          .min(1)
          .optional(),
        /** The subdomain fedgate owns (must not be in ejabberd's `hosts:`). Case does not matter: it is kept lower-case. */
        domain: z
          .string()
          .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/i, 'must be a domain name such as energy.example.org')
          .transform((d) => d.toLowerCase()),
        /**
         * Which server fedgate talks to, for the hints of fatal errors and the default stanza size limit.
         * `auto`: recognised from the server's stream header.
         */
        server: z.enum(['auto', 'ejabberd', 'prosody']).default('auto'),
        /**
         * The largest stanza the server accepts from the component: an answer that would be larger is
         * refused with an error instead of being sent (the server would close the link). Unset: Prosody's
         * default (component_stanza_size_limit, 512 KiB) on Prosody, no limit on ejabberd.
         */
        max_stanza_bytes: z.number().int().min(4096).optional(),
        /**
         * The largest stanza fedgate takes in (its names, attributes and text): a larger one is not
         * handled but answered `policy-violation` (component/xmpp/bounded-parser.ts). Neither ejabberd's
         * component listener nor xmpp.js limits it, and a stanza costs about sixty times its size in
         * memory while it is parsed. 8 MiB holds a get_history answer of 100,000 records.
         */
        max_inbound_stanza_bytes: z.number().int().min(65_536).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
        /** Name of the environment variable holding the shared secret. */
        // A name only: a secret pasted here by mistake must not be echoed back in an error.
        secret_env: z.string().regex(ENV_NAME, 'must be the name of an environment variable, e.g. FEDGATE_SECRET').default('FEDGATE_SECRET'),
        /** A file holding the shared secret (takes precedence over secret_env). */
        secret_file: z.string().min(1).optional(),
        /** Idle time after which fedgate pings itself through the server. */
        keepalive_seconds: seconds.max(300).default(30),
        /** A keepalive ping unanswered after this long forces a reconnect. */
        ping_timeout_seconds: seconds.max(120).default(10),
        reconnect_initial_ms: z.number().int().min(10).default(100),
        reconnect_max_ms: z.number().int().min(100).default(2000),
      })
      .strict(),
    database: z
      .object({
        /** SQLite file; relative paths are resolved against the configuration file's folder. */
        path: z.string().min(1).default('fedgate.sqlite'),
        /** NORMAL survives a crash of the process (kill -9); FULL also survives power loss, at a cost per commit. */
        synchronous: z.enum(['NORMAL', 'FULL']).default('NORMAL'),
      })
      .strict()
      .default({}),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        format: z.enum(['json', 'pretty']).default('json'),
      })
      .strict()
      .default({}),
    delivery: z
      .object({
        /** Peers that confirm nothing: a message counts as delivered when no bounce came back within this window. */
        bounce_window_ms: z.number().int().min(100).default(5000),
        /** Peers that send receipts (XEP-0184): no receipt within this time means "send again". */
        receipt_timeout_seconds: seconds.max(3600).default(30),
        /** Messages in flight (sent, unconfirmed) per destination. */
        window: z.number().int().min(1).max(10_000).default(256),
        /** Delay before the first retry; it doubles up to retry_max_seconds, with jitter. */
        retry_initial_ms: z.number().int().min(10).default(1000),
        retry_max_seconds: seconds.max(86_400).default(600),
        /** After this many failed attempts a message goes to the dead letters. */
        max_attempts: z.number().int().min(1).max(1000).default(20),
        /** Subscription pushes to one subscriber, per second (Quoalise asks to throttle per subscriber). */
        push_messages_per_second: z.number().positive().default(20),
      })
      .strict()
      .default({}),
    inbox: z
      .object({
        /** Past this many unapplied messages for one app, new data for it is refused with wait/resource-constraint. */
        max_pending_per_app: z.number().int().min(1).default(100_000),
        /** …and past this many of one source of an app: one sender cannot lock the app's other sources out. */
        max_pending_per_source: z.number().int().min(1).default(25_000),
        /**
         * Messages an app already has that one source may send again (each is acknowledged and, with the
         * log on, logged again): `repeats_burst` in a row, then `repeats_per_second`; past that a repeat is
         * refused resource-constraint (wait), neither stored nor logged. An honest sender repeats at most
         * its window after a lost connection.
         */
        repeats_burst: z.number().int().min(1).default(20_000),
        repeats_per_second: z.number().positive().default(100),
        /** Applied messages are remembered this long, so that a late duplicate is still recognised. */
        keep_done_days: z.number().positive().default(7),
      })
      .strict()
      .default({}),
    presence: z
      .object({
        /** Presence subscribers an app keeps per remote domain; more are refused (policy-violation). */
        max_subscribers_per_domain: z.number().int().min(1).default(1000),
      })
      .strict()
      .default({}),
    adapters: z
      .object({
        /** An adapter call that takes longer fails with an upstream error; the app's worker is restarted. */
        timeout_seconds: seconds.max(3600).default(30),
        /** Threads of the shared pool, which hosts the apps of isolation `shared` (store, echo); default: one per core, at most 8. */
        shared_workers: z.number().int().min(1).max(64).optional(),
        /** JS heap limit of each adapter thread, MB: past it the thread is restarted (its calls in flight fail), not the gateway. */
        worker_heap_mb: z.number().int().min(16).max(65_536).default(512),
      })
      .strict()
      .default({}),
    metrics: z
      .object({
        /**
         * `host:port` of the HTTP listener for Prometheus metrics (/metrics), health (/health) and the
         * status page (/). Off when unset. Keep it on loopback or behind a proxy: it has no authentication.
         */
        listen: hostPort('127.0.0.1:9464').optional(),
      })
      .strict()
      .default({}),
    quoalise: z
      .object({
        /** A get_history range holding more records is refused with bad-request (narrow the range). */
        max_records: z.number().int().min(1).max(10_000_000).default(100_000),
        /** The most series one list_series answer holds: a page (XEP-0059), the next asked `after` its last. */
        max_catalogue_series: z.number().int().min(1).max(1_000_000).default(5_000),
        /**
         * Bytes of answers one requester domain may have in the XMPP link at once (router/answer-budget.ts):
         * a big answer past it waits its turn (resource-constraint, wait); one alone always passes.
         */
        answer_bytes_per_domain: z.number().int().min(65_536).default(16 * 1024 * 1024),
        /**
         * Quoalise commands per second from one requester (bare JID), sustained; more get
         * resource-constraint (wait). `request_burst` calls in a row always pass: an honest client
         * reading many series one after the other never meets the limit, a flood does.
         */
        requests_per_second: z.number().positive().default(50),
        request_burst: z.number().int().min(1).default(500),
        /** The same for all requesters of one domain together (a flood from many accounts of one server). */
        domain_requests_per_second: z.number().positive().default(500),
        domain_request_burst: z.number().int().min(1).default(5000),
        /** Subscriptions one requester may hold on this gateway (all apps together). */
        max_subscriptions_per_requester: z.number().int().min(1).default(1000),
        /** Subscriptions all the requesters of one domain may hold together. */
        max_subscriptions_per_domain: z.number().int().min(1).default(10_000),
        /** Open two-step command sessions per requester: a new one closes that requester's oldest. */
        max_sessions_per_requester: z.number().int().min(1).default(20),
        /** Open two-step command sessions of all the requesters of one domain; past it, new ones are refused (resource-constraint). */
        max_sessions_per_domain: z.number().int().min(1).default(1000),
        /** How long a two-step command session waits for its submitted form. */
        session_timeout_seconds: seconds.max(86_400).default(600),
      })
      .strict()
      .default({}),
    trace: z
      .object({
        /** The transparency log, signed checkpoints and signed receipts (component/trace/). Off: nothing is logged or signed. */
        enabled: z.boolean().default(true),
        /** The gateway's Ed25519 signing key, created on first start (mode 0600); relative to the configuration's folder. */
        key_file: z.string().min(1).default('fedgate-log.key'),
        /** A signed checkpoint of the log is written this often while entries arrive. */
        checkpoint_seconds: z.number().min(0.1).max(3600).default(5),
      })
      .strict()
      .default({}),
    gdpr: z
      .object({
        /** Who runs the gateway (the controller, or the processor for the apps' controllers): named in the register (Art. 30). */
        controller: z.string().min(1).optional(),
        /** How people reach them about their data (the data protection officer, a mailbox): named in the register and exports. */
        contact: z.string().min(1).optional(),
      })
      .strict()
      .default({}),
    /** Gateway admins: bare JIDs allowed to run the admin commands of the domain's JID over XMPP. */
    admins: z
      .array(
        z.string().transform((s, ctx) => {
          try {
            const jid = normalizeRequester(s);
            if (!jid.startsWith('*')) return jid;
          } catch {
            /* reported below */
          }
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${s}" must be a bare JID such as admin@example.org` });
          return z.NEVER;
        }),
      )
      .default([]),
    consent: z
      .object({
        /** Longest validity of a consent, from when it is asked or renewed (ISO 8601; Enedis uses three years). */
        max_validity: z
          .string()
          .default('P3Y')
          .superRefine((s, ctx) => {
            try {
              parseCalendarDuration(s);
            } catch (err) {
              if (err instanceof DurationError) ctx.addIssue({ code: z.ZodIssueCode.custom, message: err.message });
              else throw err;
            }
          }),
        /** Requests (and renewals) of one requester waiting for a decision, at most. */
        max_pending_per_requester: z.number().int().min(1).default(20),
        /** Requests waiting for a decision on one app, at most. */
        max_pending_per_app: z.number().int().min(1).default(1000),
        /** Requests waiting for a decision on one app from all the requesters of one domain, at most. */
        max_pending_per_domain: z.number().int().min(1).default(100),
        /** Requests one requester may make in 24 hours. */
        max_requests_per_day: z.number().int().min(1).default(100),
        /** Requests all the requesters of one domain may make in 24 hours (the history of each is kept for ever). */
        max_requests_per_domain_per_day: z.number().int().min(1).default(500),
      })
      .strict()
      .default({}),
  })
  .strict();

export type ConfigFile = z.infer<typeof ConfigSchema>;

/** One listener of the server: where the link connects. */
export interface ServerAddress {
  host: string;
  port: number;
}

/** `host:port` (IPv6 in brackets) → its parts. The schema has already checked the shape. */
export function parseHostPort(s: string): ServerAddress {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

export function formatHostPort(a: ServerAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The validated configuration plus what was resolved from the environment. */
export interface Config extends ConfigFile {
  /** Where the link connects, in order of preference: `link.hosts`, or `link.host` + `link.port`. */
  servers: ServerAddress[];
  /** The folder relative paths were resolved against. */
  baseDir: string;
  /** The handshake secret; never logged (the logger redacts the key too). */
  secret: string;
  /** What is allowed but unwise (a secret file readable by others): logged at warn by `start`. */
  warnings: string[];
}
