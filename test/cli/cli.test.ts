/** The `fedgate` command from a shell user's point of view: outputs, errors and exit codes. */
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { Fedgate } from '../helpers/fedgate.js';

interface Ctx {
  fg: Fedgate;
}
const test = suite<Ctx>('cli');

test.before((ctx) => {
  // No server needed: these commands only touch the configuration and the database.
  ctx.fg = new Fedgate({ port: 1, domain: 'energy.example.org', secret: 's3cret' });
});
test.after((ctx) => ctx.fg.cleanup());

test('app add / list / show / set / remove', async ({ fg }) => {
  let r = await fg.cli('app', 'add', 'meters', '--kind', 'echo', '--option', 'prefix=> ', '--description', 'Grid meters');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'added meters');
  r = await fg.cli('app', 'list');
  assert.match(r.stdout, /meters\s+echo\s+Grid meters/);
  r = await fg.cli('app', 'show', 'meters', '--json');
  const shown = JSON.parse(r.stdout) as { jid: string; options: { prefix: string } };
  assert.is(shown.jid, 'meters@energy.example.org');
  assert.is(shown.options.prefix, '> ');
  r = await fg.cli('app', 'set', 'meters', '--option', 'prefix=>> ');
  assert.is(r.code, 0, r.stderr);
  assert.is((JSON.parse((await fg.cli('app', 'show', 'meters', '--json')).stdout) as { options: { prefix: string } }).options.prefix, '>> ');
  r = await fg.cli('app', 'remove', 'meters');
  assert.is(r.code, 0);
  assert.match((await fg.cli('app', 'list')).stdout, 'no applications');
});

test('registry errors exit 1 with a message', async ({ fg }) => {
  await fg.cli('app', 'add', 'dup', '--kind', 'echo');
  let r = await fg.cli('app', 'add', 'dup', '--kind', 'echo');
  assert.is(r.code, 1);
  assert.match(r.stderr, 'already exists');
  r = await fg.cli('app', 'add', 'Bad Name!', '--kind', 'echo');
  assert.is(r.code, 1);
  assert.match(r.stderr, 'invalid app name');
  r = await fg.cli('app', 'add', 'x', '--kind', 'nosuch');
  assert.is(r.code, 1);
  assert.match(r.stderr, 'unknown adapter kind "nosuch"');
  r = await fg.cli('app', 'add', 'y', '--kind', 'echo', '--option', 'colour=red');
  assert.is(r.code, 1);
  assert.match(r.stderr, 'option colour');
  r = await fg.cli('app', 'show', 'ghost');
  assert.is(r.code, 1);
  r = await fg.cli('app', 'remove', 'ghost');
  assert.is(r.code, 1);
  assert.match(r.stderr, 'no app named "ghost"');
});

test('usage errors exit 2; --help exits 0', async ({ fg }) => {
  let r = await fg.cli('app', 'add', 'z');
  assert.is(r.code, 2);
  assert.match(r.stderr, '--kind');
  r = await fg.cli('frobnicate');
  assert.is(r.code, 2);
  r = await fg.cli('app', 'add', '--help');
  assert.is(r.code, 0);
  assert.match(r.stdout, 'Adapter kinds:');
  assert.match(r.stdout, 'echo');
});

test('status of a gateway that is not running exits 3', async ({ fg }) => {
  const r = await fg.cli('status');
  assert.is(r.code, 3);
  assert.match(r.stdout, 'not running');
  const j = await fg.cli('status', '--json');
  assert.is((JSON.parse(j.stdout) as { running: boolean }).running, false);
});

test('configuration errors name the key and exit 2', async ({ fg }) => {
  writeFileSync(fg.configPath, 'link:\n  domain: energy.example.org\n  port: "five"\n');
  let r = await fg.cli('app', 'list');
  assert.is(r.code, 2);
  assert.match(r.stderr, 'link.port');
  writeFileSync(fg.configPath, 'link:\n  domain: energy.example.org\n  secret: hunter2\n');
  r = await fg.cli('app', 'list');
  assert.is(r.code, 2);
  assert.match(r.stderr, 'link.secret');
  assert.not.match(r.stderr, 'hunter2');
  writeFileSync(fg.configPath, 'link:\n  domain: energy.example.org\n  colour: red\n');
  r = await fg.cli('app', 'list');
  assert.is(r.code, 2);
  assert.match(r.stderr, 'colour');
  writeFileSync(fg.configPath, 'link:\n  domain: energy.example.org\n  secret_env: FEDGATE_TEST_NO_SUCH_VAR\n');
  r = await fg.cli('start');
  assert.is(r.code, 2);
  assert.match(r.stderr, 'FEDGATE_TEST_NO_SUCH_VAR');
});

test.run();
