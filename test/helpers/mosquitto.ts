/**
 * A throwaway mosquitto (Debian's) for tests, benchmarks and the demo: its own configuration in a scratch
 * folder, loopback only, a free port, a password file (and, on request, a TLS listener with a
 * certificate signed by a scratch authority), persistence on, so that a restart keeps persistent sessions.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface MosquittoOptions {
  /** Also listen with TLS (certificate for 127.0.0.1 signed by `caFile`). */
  tls?: boolean;
}

export class Mosquitto {
  private proc: ChildProcess | null = null;
  log = '';
  readonly user = 'fedgate';
  readonly password = `mq-${Math.random().toString(36).slice(2)}`;

  private constructor(readonly dir: string, readonly port: number, readonly tlsPort: number | null) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }
  get tlsUrl(): string {
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }
  get passwordFile(): string {
    return join(this.dir, 'client-password');
  }
  get caFile(): string {
    return join(this.dir, 'ca.crt');
  }

  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = mkdtempSync(join(tmpdir(), 'fedgate-mqtt-'));
    const m = new Mosquitto(dir, await freePort(), opts.tls ? await freePort() : null);
    execFileSync('mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), m.user, m.password]);
    writeFileSync(m.passwordFile, `${m.password}\n`, { mode: 0o600 });
    let tls = '';
    if (m.tlsPort !== null) {
      const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=fedgate test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
      ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr');
      writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
      ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.crt');
      tls = `listener ${m.tlsPort} 127.0.0.1\ncafile ${dir}/ca.crt\ncertfile ${dir}/server.crt\nkeyfile ${dir}/server.key\n`;
    }
    writeFileSync(
      join(dir, 'mosquitto.conf'),
      `per_listener_settings false
allow_anonymous false
password_file ${dir}/passwd
persistence true
persistence_location ${dir}/
autosave_interval 1
max_queued_messages 1000000
max_inflight_messages 100
log_dest stderr
log_type error
log_type warning
user root
listener ${m.port} 127.0.0.1
${tls}`,
    );
    await m.boot();
    return m;
  }

  /** Starts the broker (again, after `stopBroker`: same port, same persistence file). */
  async boot(): Promise<void> {
    const proc = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    await waitForPort(this.port, 10_000);
    if (this.tlsPort !== null) await waitForPort(this.tlsPort, 10_000);
  }

  /** Stops the broker cleanly (it saves its persistence file) and waits for it to exit. */
  async stopBroker(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    this.proc = null;
  }

  async stop(): Promise<void> {
    await this.stopBroker();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
