/**
 * A throwaway ejabberd for tests and benchmarks: unique node name, loopback ports, a scratch folder
 * owned by the `ejabberd` user (the Debian ejabberdctl switches to it when run as root). Each component
 * domain gets its own `ejabberd_service` listener (its own port): ejabberd checks the `from` of what a
 * component sends only against the hosts of its own listener, so two components on one listener could
 * send as each other. Two nodes can be joined into a cluster (`joinCluster`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './ports.js';
import type { ComponentListener, XmppServer } from './xmpp-server.js';

const run = promisify(execFile);

export interface EjabberdOptions {
  components: ComponentListener[];
}

/** The listener item of the repository's ejabberd.example.yml (from its `  -` to the end of the item). */
const EXAMPLE_LISTENER = (() => {
  const text = readFileSync(join(fileURLToPath(import.meta.url), '../../../../ejabberd.example.yml'), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === '  -');
  const end = lines.findIndex((l, i) => i > start && l !== '' && !l.startsWith('  '));
  return lines.slice(start, end < 0 ? undefined : end).join('\n').trimEnd();
})();

let counter = 0;

export class Ejabberd implements XmppServer {
  readonly kind = 'ejabberd';
  readonly host = 'localhost';
  private constructor(
    readonly dir: string,
    readonly node: string,
    readonly c2sPort: number,
    private readonly componentPorts: Map<string, number>,
    readonly options: EjabberdOptions,
  ) {}

  static async start(options: EjabberdOptions): Promise<Ejabberd> {
    const dir = mkdtempSync(join(tmpdir(), 'fedgate-ejabberd-'));
    // FEDGATE_TEST_RUN (set by scripts/test) lets the run's cleanup find its own nodes and only those.
    const node = `fgtest${process.env.FEDGATE_TEST_RUN ?? process.pid}x${counter++}@localhost`;
    const ports = new Map<string, number>();
    for (const c of options.components) ports.set(c.domain, await freePort());
    const e = new Ejabberd(dir, node, await freePort(), ports, options);
    e.writeConfig();
    await e.boot();
    return e;
  }

  /** The port of the listener of `domain`'s component. */
  componentPort(domain: string): number {
    const port = this.componentPorts.get(domain);
    if (port === undefined) throw new Error(`no component listener for ${domain} on ${this.node} (listeners: ${[...this.componentPorts.keys()].join(', ')})`);
    return port;
  }

  private ctlArgs(...verb: string[]): string[] {
    return ['--config-dir', this.dir, '--logs', join(this.dir, 'logs'), '--spool', join(this.dir, 'spool'), '--node', this.node, ...verb];
  }

  private writeConfig(): void {
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    mkdirSync(join(this.dir, 'spool'), { recursive: true });
    // The listener of each gateway is the block of ejabberd.example.yml, pasted under `listen:` as its
    // comment says: every test that starts ejabberd proves that the block works as documented.
    const services = this.options.components
      .map((c) =>
        EXAMPLE_LISTENER.replace('port: 5347', `port: ${this.componentPort(c.domain)}`)
          .replace('"energy.example.org":', `"${c.domain}":`)
          .replace('"CHANGE-ME-long-random-ascii-secret"', `"${c.secret}"`)
          .replace('check_from: true ', c.checkFrom === false ? 'check_from: false' : 'check_from: true '),
      )
      .join('\n');
    writeFileSync(
      join(this.dir, 'ejabberd.yml'),
      `hosts:
  - localhost
loglevel: warning
certfiles: []
auth_method: internal
auth_password_format: scram
listen:
  - port: ${this.c2sPort}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    shaper: none
    max_stanza_size: 4194304
${services}
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
shaper_rules:
  c2s_shaper: none
  max_user_sessions: 100
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_caps: {}
`,
    );
    // Erlang schedulers that busy-wait steal the CPU of a 2-core machine from the programs under test
    // (see ejabberd.example.yml).
    writeFileSync(join(this.dir, 'ejabberdctl.cfg'), 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 +sbwt none +sbwtdcpu none +sbwtdio none"\n');
    if (existsSync('/etc/ejabberd/inetrc')) cpSync('/etc/ejabberd/inetrc', join(this.dir, 'inetrc'));
    execFileSync('chown', ['-R', 'ejabberd:ejabberd', this.dir]);
  }

  private async boot(): Promise<void> {
    await run('ejabberdctl', this.ctlArgs('start'));
    await this.listening();
  }

  private async listening(): Promise<void> {
    for (const port of this.componentPorts.values()) await waitForPort(port, 30_000);
    await waitForPort(this.c2sPort, 30_000);
  }

  /**
   * Makes this node a member of `other`'s cluster (`ejabberdctl join_cluster`): accounts and routes
   * are then shared, and a user of one node reaches a component connected to the other.
   */
  async joinCluster(other: Ejabberd): Promise<void> {
    await run('ejabberdctl', this.ctlArgs('join_cluster', other.node));
    await this.listening();
  }

  /** The nodes this node's cluster has, running or not. */
  async clusterNodes(): Promise<string[]> {
    const { stdout } = await run('ejabberdctl', this.ctlArgs('list_cluster'));
    return stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  }

  /** The operating-system pid of this node's Erlang VM, if it runs. */
  pid(): number | null {
    try {
      const out = execFileSync('pgrep', ['-f', '--', `name ${this.node}( |$)`], { encoding: 'utf8' });
      const pid = Number(out.trim().split('\n')[0]);
      return Number.isFinite(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  async register(user: string, password: string): Promise<string> {
    await run('ejabberdctl', this.ctlArgs('register', user, this.host, password));
    return `${user}@${this.host}`;
  }

  /** Crash: SIGKILL the VM, as an OOM kill or a power cut would. */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid) process.kill(pid, 'SIGKILL');
    await this.waitGone();
  }

  /** Starts the same node again (same config, same ports) and waits for its listeners. */
  async restart(): Promise<void> {
    await this.boot();
  }

  /** Clean stop and removal of the scratch folder. */
  async stop(opts: { keep?: boolean } = {}): Promise<void> {
    const pid = this.pid();
    if (pid) {
      process.kill(pid, 'SIGTERM');
      try {
        await this.waitGone(10_000);
      } catch {
        process.kill(pid, 'SIGKILL');
        await this.waitGone();
      }
    }
    if (!opts.keep) rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitGone(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pid()) {
      if (Date.now() > deadline) throw new Error(`ejabberd ${this.node} still running`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
