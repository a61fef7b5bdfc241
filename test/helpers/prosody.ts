/**
 * A throwaway Prosody 0.12 (Debian's package) for tests: its own scratch folder, configuration and data
 * (owned by the `prosody` user), loopback ports, no TLS, no s2s. Run in the foreground with setpriv as
 * the `prosody` user: as root it logs "Refusing to run as root" and keeps running. All components share
 * Prosody's one component port; each is a `Component "domain"` with its own `component_secret`.
 * The folder name carries FEDGATE_TEST_RUN, so that scripts/test removes only its own leftovers.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';
import type { ComponentListener, XmppServer } from './xmpp-server.js';

let counter = 0;

/** Prosody's datamanager file-name encoding: anything but letters and digits as %XX. */
function encodeName(s: string): string {
  return s.replace(/[^a-zA-Z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export class Prosody implements XmppServer {
  readonly kind = 'prosody';
  readonly host = 'localhost';
  private proc: ChildProcess | null = null;
  private output = '';

  private constructor(
    readonly dir: string,
    readonly c2sPort: number,
    private readonly port: number,
    readonly components: ComponentListener[],
  ) {}

  static async start(opts: { components: ComponentListener[] }): Promise<Prosody> {
    const dir = mkdtempSync(join(tmpdir(), `fgtest${process.env.FEDGATE_TEST_RUN ?? process.pid}p${counter++}-`));
    const p = new Prosody(dir, await freePort(), await freePort(), opts.components);
    p.writeConfig();
    await p.boot();
    return p;
  }

  get configPath(): string {
    return join(this.dir, 'prosody.cfg.lua');
  }

  componentPort(domain: string): number {
    if (!this.components.some((c) => c.domain === domain)) throw new Error(`no Component "${domain}" in this Prosody`);
    return this.port;
  }

  private writeConfig(): void {
    for (const d of ['data', 'certs']) mkdirSync(join(this.dir, d), { recursive: true });
    const components = this.components.map((c) => `Component "${c.domain}"\n  component_secret = "${c.secret}"\n`).join('\n');
    writeFileSync(
      this.configPath,
      `-- fedgate test server (test/helpers/prosody.ts)
pidfile = "${this.dir}/prosody.pid"
data_path = "${this.dir}/data"
certificates = "${this.dir}/certs"
log = { info = "${this.dir}/prosody.log"; error = "${this.dir}/prosody.err" }
plugin_paths = {}
modules_enabled = { "disco", "roster", "saslauth", "ping", "time", "version", "uptime" }
modules_disabled = { "s2s", "offline", "tls" }
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_ports = { ${this.c2sPort} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
component_ports = { ${this.port} }
component_interfaces = { "127.0.0.1" }
http_ports = {}
https_ports = {}
VirtualHost "localhost"

${components}`,
    );
    execFileSync('chown', ['-R', 'prosody:prosody', this.dir]);
  }

  private async boot(): Promise<void> {
    this.output = '';
    const proc = spawn('setpriv', ['--reuid=prosody', '--regid=prosody', '--init-groups', 'prosody', '-F', '--config', this.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.on('exit', () => {
      if (this.proc === proc) this.proc = null;
    });
    this.proc = proc;
    try {
      await waitForPort(this.port, 30_000);
      await waitForPort(this.c2sPort, 30_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nProsody said:\n${this.output}${this.log()}`);
    }
  }

  /** Prosody's own log, for failure messages. */
  log(): string {
    const f = join(this.dir, 'prosody.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  /** Accounts are files of the internal_plain store, read by Prosody at each login. */
  async register(user: string, password: string): Promise<string> {
    const accounts = join(this.dir, 'data', encodeName(this.host), 'accounts');
    mkdirSync(accounts, { recursive: true });
    writeFileSync(join(accounts, `${encodeName(user)}.dat`), `return {\n\t["password"] = ${JSON.stringify(password)};\n};\n`);
    execFileSync('chown', ['-R', 'prosody:prosody', join(this.dir, 'data')]);
    return `${user}@${this.host}`;
  }

  pid(): number | null {
    return this.proc?.pid ?? null;
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    proc.kill('SIGKILL');
    await new Promise<void>((resolve) => (this.proc ? proc.once('exit', () => resolve()) : resolve()));
  }

  async restart(): Promise<void> {
    await this.boot();
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc) {
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
