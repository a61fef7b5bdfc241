/**
 * Runs the real fedgate CLI as a child process against a throwaway ejabberd: its own scratch folder,
 * configuration and database. Used by every end-to-end test and benchmark.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const runFile = promisify(execFile);
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const CLI = join(ROOT, 'dist/scripts/fedgate.js');

export interface FedgateOptions {
  port: number;
  domain: string;
  secret: string;
  /** Extra YAML appended to the configuration file. */
  extraYaml?: string;
  /** Extra keys for the link section, e.g. `{ keepalive_seconds: 1 }`; `hosts` (YAML) replaces host and port. */
  link?: Record<string, string | number>;
  logLevel?: string;
  dir?: string;
}

export class Fedgate {
  proc: ChildProcess | null = null;
  readonly dir: string;
  readonly configPath: string;
  stderr = '';
  private exitWaiters: Array<(code: number | null) => void> = [];
  exitCode: number | null | undefined = undefined;
  /** A command every CLI run and start is run under, e.g. setpriv dropping root's capabilities. */
  commandPrefix: string[] = [];

  constructor(readonly opts: FedgateOptions) {
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'fedgate-test-'));
    this.configPath = join(this.dir, 'fedgate.yml');
    writeFileSync(
      this.configPath,
      `link:
${opts.link?.hosts !== undefined ? '' : `  host: 127.0.0.1\n  port: ${opts.port}\n`}  domain: ${opts.domain}
  secret_file: secret
${Object.entries(opts.link ?? {}).map(([k, v]) => `  ${k}: ${v}\n`).join('')}database:
  path: fedgate.sqlite
log:
  level: ${opts.logLevel ?? 'warn'}
${opts.extraYaml ?? ''}`,
    );
    writeFileSync(join(this.dir, 'secret'), `${opts.secret}\n`, { mode: 0o600 });
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, FEDGATE_CONFIG: this.configPath };
  }

  /** Runs a CLI command to completion: { code, stdout, stderr }. */
  async cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const [cmd, ...pre] = [...this.commandPrefix, process.execPath];
      const { stdout, stderr } = await runFile(cmd!, [...pre, CLI, ...args], { env: this.env });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  /** Runs a CLI command that must succeed; returns its stdout, throws with its stderr otherwise. */
  async must(...args: string[]): Promise<string> {
    const r = await this.cli(...args);
    if (r.code !== 0) throw new Error(`fedgate ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** The rows of a listing command's `--json` (`{ total, rows }`); throws if the command fails. */
  async rows<T = Record<string, unknown>>(...args: string[]): Promise<T[]> {
    return (JSON.parse(await this.must(...args, '--json')) as { rows: T[] }).rows;
  }

  /**
   * Starts `fedgate start` in the background. `nodeArgs` go to node before the CLI (e.g. `--import` of a
   * fault injector); `env` adds variables.
   */
  start(opts: { nodeArgs?: string[]; env?: Record<string, string> } = {}): this {
    this.exitCode = undefined;
    this.stderr = '';
    // FEDGATE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile the gateway under test.
    const nodeArgs = [...(process.env.FEDGATE_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(opts.nodeArgs ?? [])];
    const [cmd, ...pre] = [...this.commandPrefix, process.execPath];
    const proc = spawn(cmd!, [...pre, ...nodeArgs, CLI, 'start'], { env: { ...this.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      if (process.env.FEDGATE_TEST_LOGS) process.stderr.write(d);
    });
    proc.stdout!.resume();
    proc.on('exit', (code) => {
      this.exitCode = code;
      this.proc = null;
      for (const w of this.exitWaiters.splice(0)) w(code);
    });
    this.proc = proc;
    return this;
  }

  /** Resolves with the exit code when the process ends; rejects after timeoutMs. */
  waitExit(timeoutMs = 10_000): Promise<number | null> {
    if (this.exitCode !== undefined && !this.proc) return Promise.resolve(this.exitCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fedgate still running after ${timeoutMs} ms`)), timeoutMs);
      this.exitWaiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  /** Polls `fedgate status --json` until the link is online. */
  async waitOnline(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.cli('status', '--json');
      if (r.code === 0 && (JSON.parse(r.stdout) as { link: string }).link === 'online') return;
      if (this.exitCode !== undefined && !this.proc) throw new Error(`fedgate exited (${this.exitCode}): ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`fedgate not online after ${timeoutMs} ms: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  async stop(): Promise<number | null> {
    if (!this.proc) return this.exitCode ?? null;
    this.proc.kill('SIGTERM');
    return this.waitExit(15_000);
  }

  cleanup(): void {
    this.proc?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
