/**
 * A throwaway PostgreSQL from Debian's packages for tests and benchmarks: initdb + pg_ctl as the
 * `postgres` user in a scratch folder, loopback only, on a free port, password authentication (the
 * password in a file, as an operator would give it to fedgate). Stopped and removed by `stop()`.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);
export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const ZABBIX_SCHEMA = '/usr/share/zabbix-server-pgsql/schema.sql.gz';

/** Runs a command as the postgres user (initdb and the server refuse to run as root). */
function asPostgres(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', cmd, ...args], { maxBuffer: 64 * 1024 * 1024 });
}

export class Postgres {
  readonly host = '127.0.0.1';
  readonly user = 'postgres';
  readonly database = 'postgres';
  private constructor(readonly dir: string, readonly port: number, readonly password: string, readonly passwordFile: string) {}

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  static async start(): Promise<Postgres> {
    const dir = mkdtempSync(join(tmpdir(), 'fedgate-pg-'));
    chmodSync(dir, 0o755);
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    // The file fedgate reads (root-owned) and the one initdb reads (postgres-owned).
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const initPw = join(dir, 'initdb-password');
    writeFileSync(initPw, password, { mode: 0o600 });
    execFileSync('chown', ['postgres:postgres', dir, initPw]);
    const pg = new Postgres(dir, await freePort(), password, passwordFile);
    await asPostgres(join(PG_BIN, 'initdb'), ['-D', pg.dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${initPw}`, '-E', 'UTF8', '--locale=C', '--no-sync']);
    writeFileSync(
      join(pg.dataDir, 'postgresql.auto.conf'),
      // fsync off: a test server; durability of PostgreSQL itself is not what is tested.
      `listen_addresses = '127.0.0.1'\nport = ${pg.port}\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 64MB\nmax_connections = 50\n`,
    );
    execFileSync('chown', ['postgres:postgres', join(pg.dataDir, 'postgresql.auto.conf')]);
    await pg.boot();
    return pg;
  }

  /** Starts the server (after `stopServer`) and waits until it accepts queries. */
  async boot(): Promise<void> {
    await asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-l', join(this.dir, 'server.log'), '-w', '-t', '60', 'start']);
  }

  /** Stops the server (fast: open connections are cut, as in a real restart). */
  async stopServer(): Promise<void> {
    await asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', this.dataDir, '-w', '-t', '60', '-m', 'fast', 'stop']);
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, PGHOST: this.host, PGPORT: String(this.port), PGUSER: this.user, PGPASSWORD: this.password, PGDATABASE: this.database };
  }

  /** Runs SQL through psql (ON_ERROR_STOP); returns its output (unaligned, tuples only). */
  async psql(sql: string, database = this.database): Promise<string> {
    const { stdout } = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', sql], { env: this.env, maxBuffer: 256 * 1024 * 1024 });
    return stdout.trim();
  }

  /** Creates `database` and loads Zabbix's own schema into it (Debian's zabbix-server-pgsql). */
  async createZabbix(database = 'zabbix'): Promise<void> {
    await this.psql(`CREATE DATABASE ${database}`);
    await new Promise<void>((resolve, reject) => {
      const zcat = spawn('zcat', [ZABBIX_SCHEMA], { stdio: ['ignore', 'pipe', 'inherit'] });
      const psql = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', database], { env: this.env, stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      psql.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      zcat.stdout!.pipe(psql.stdin!);
      psql.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`loading the Zabbix schema failed: ${err}`))));
    });
  }

  /** Stops the server and removes the scratch folder. */
  async stop(): Promise<void> {
    await this.stopServer().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
