/**
 * The XMPP servers the suites run against, behind one interface: a throwaway ejabberd or Prosody with
 * a component listener for each gateway domain, client accounts, and crash/restart for chaos tests.
 * Suites that must hold on both servers take a `ServerKind` and run once per kind (`serverKinds()`).
 */
import { Ejabberd } from './ejabberd.js';
import { Prosody } from './prosody.js';

export type ServerKind = 'ejabberd' | 'prosody';

export interface ComponentListener {
  domain: string;
  secret: string;
  /**
   * false: the server does not check the `from` of what this component sends (ejabberd's
   * `check_from: false`), so it can forge any address — a hostile peer behind a careless server.
   */
  checkFrom?: boolean;
}

export interface XmppServer {
  readonly kind: ServerKind;
  /** The domain of client accounts (`alice@localhost`). */
  readonly host: string;
  readonly c2sPort: number;
  /** The loopback port a component for `domain` connects to (its own listener on ejabberd). */
  componentPort(domain: string): number;
  /** Creates a client account; returns its bare JID. */
  register(user: string, password: string): Promise<string>;
  /** The operating-system pid of the server, if it runs. */
  pid(): number | null;
  /** Crash: SIGKILL. */
  kill(): Promise<void>;
  /** Starts it again with the same configuration and ports. */
  restart(): Promise<void>;
  /** Clean stop and removal of the scratch folder. */
  stop(): Promise<void>;
}

export function startServer(kind: ServerKind, opts: { components: ComponentListener[] }): Promise<XmppServer> {
  return kind === 'ejabberd' ? Ejabberd.start(opts) : Prosody.start(opts);
}

/**
 * The servers a parametrized suite runs against: both, unless FEDGATE_SERVERS names some
 * (`FEDGATE_SERVERS=ejabberd scripts/test core/routing`).
 */
export function serverKinds(): ServerKind[] {
  const wanted = (process.env.FEDGATE_SERVERS ?? 'ejabberd,prosody').split(',').map((s) => s.trim());
  return (['ejabberd', 'prosody'] as const).filter((k) => wanted.includes(k));
}
