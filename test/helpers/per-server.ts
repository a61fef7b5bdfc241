/**
 * One suite, run once per XMPP server (ejabberd, Prosody): `perServer('routing')` is used like uvu's
 * `suite()`, and every test and hook is registered on one uvu suite per server, whose context starts
 * with `kind`. A test that only makes sense on some servers says so: `test(name, fn, ['ejabberd'])`.
 * FEDGATE_SERVERS narrows the servers (see serverKinds()).
 */
import { type Callback } from 'uvu';
import { suite } from './suite.js';
import { serverKinds, type ServerKind } from './xmpp-server.js';

export interface ServerContext {
  kind: ServerKind;
}

export interface PerServerSuite<T extends ServerContext> {
  (name: string, fn: Callback<T>, only?: ServerKind[]): void;
  before(fn: Callback<T>): void;
  after(fn: Callback<T>): void;
  run(): void;
}

export function perServer<T extends ServerContext>(name: string): PerServerSuite<T> {
  const suites = serverKinds().map((kind) => ({ kind, suite: suite<T>(`${name} (${kind})`, { kind } as T) }));
  const test = (title: string, fn: Callback<T>, only?: ServerKind[]) => {
    for (const s of suites) if (!only || only.includes(s.kind)) s.suite(title, fn);
  };
  test.before = (fn: Callback<T>) => suites.forEach((s) => s.suite.before(fn));
  test.after = (fn: Callback<T>) => suites.forEach((s) => s.suite.after(fn));
  test.run = () => suites.forEach((s) => s.suite.run());
  return test;
}
