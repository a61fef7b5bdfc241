/**
 * Installing and running fedgate as a service, as the README says: `npm install -g` of the checkout
 * gives a `fedgate` command; the package (`npm pack`) carries what that command needs and no tests;
 * the systemd unit passes `systemd-analyze verify` (Debian's systemd) with the installed command, and
 * its hardening keeps the exposure level of `systemd-analyze security` low.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { VERSION } from '../../component/version.js';

const run = promisify(execFile);
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const UNIT = join(ROOT, 'scripts/deploy/fedgate.service');

test('npm install -g of the checkout gives a fedgate command; the unit verifies with it', async () => {
  const prefix = mkdtempSync(join(tmpdir(), 'fedgate-install-'));
  try {
    await run('npm', ['install', '-g', '--prefix', prefix, ROOT, '--offline', '--no-audit', '--no-fund'], { cwd: tmpdir() });
    const command = join(prefix, 'bin', 'fedgate');
    assert.is((await run(command, ['--version'])).stdout.trim(), VERSION);
    const help = (await run(command, ['--help'])).stdout;
    for (const c of ['start', 'status', 'backup', 'restore']) assert.match(help, new RegExp(`\\n\\s+${c}\\b`), c);

    // The unit as shipped, with the command where this test installed it.
    const unit = readFileSync(UNIT, 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/fedgate --config \/etc\/fedgate\/fedgate\.yml start$/m);
    const local = join(prefix, 'fedgate.service');
    writeFileSync(local, unit.replace('/usr/local/bin/fedgate', command));
    const verify = await run('systemd-analyze', ['verify', local]).catch((err: { stderr: string; code: number }) => err);
    assert.is('code' in verify ? verify.code : 0, 0, 'stderr' in verify ? verify.stderr : '');
    assert.is(verify.stderr.trim(), '', verify.stderr);
    const security = await run('systemd-analyze', ['security', '--offline=yes', local]).catch((err: { stdout: string }) => err);
    const exposure = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(security.stdout)?.[1]);
    assert.ok(exposure <= 2.5, `exposure level ${exposure}`);
    for (const line of ['Restart=on-failure', 'RestartPreventExitStatus=2 3', 'KillSignal=SIGTERM', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/fedgate', 'NoNewPrivileges=yes', 'User=fedgate']) {
      assert.match(unit, new RegExp(`^${line}$`, 'm'), line);
    }
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});

test('npm pack: the package holds the command, its workers and the migrations, not the tests', async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--offline'], { cwd: ROOT });
  const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
  for (const f of ['dist/scripts/fedgate.js', 'dist/component/main.js', 'dist/component/observe/observe-worker.js', 'dist/component/delivery/send-worker.js', 'schema/001_core.sql', 'schema/009_operations.sql', 'schema/store/001_store.sql', 'scripts/deploy/fedgate.service', 'scripts/deploy/grafana-dashboard.json', 'ejabberd.example.yml']) {
    assert.ok(files.includes(f), f);
  }
  assert.is(files.filter((f) => f.startsWith('dist/test/') || f.includes('.test.')).length, 0);
});

test("ejabberd.example.yml pasted under the `listen:` of Debian's ejabberd.yml adds one listener and nothing else", () => {
  const debian = existsSync('/etc/ejabberd/ejabberd.yml') ? readFileSync('/etc/ejabberd/ejabberd.yml', 'utf8') : 'hosts:\n  - localhost\nlisten:\n  -\n    port: 5222\n    module: ejabberd_c2s\n';
  const example = readFileSync(join(ROOT, 'ejabberd.example.yml'), 'utf8');
  assert.not.match(example, /^listen:/m, 'no second listen: key');
  const pasted = debian.replace(/^listen:\n/m, `listen:\n${example}\n`);
  const before = parseYaml(debian) as { listen: unknown[] };
  const after = parseYaml(pasted, { uniqueKeys: true }) as { listen: Array<Record<string, unknown>> };
  assert.is(after.listen.length, before.listen.length + 1);
  const service = after.listen[0]!;
  assert.equal(
    { port: service.port, ip: service.ip, module: service.module, global_routes: service.global_routes, check_from: service.check_from },
    { port: 5347, ip: '127.0.0.1', module: 'ejabberd_service', global_routes: false, check_from: true },
  );
  assert.equal(Object.keys(service.hosts as object), ['energy.example.org']);
  assert.equal(after.listen.slice(1), before.listen, 'the other listeners are untouched');
});

test.run();
