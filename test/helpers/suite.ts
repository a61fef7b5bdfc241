/**
 * uvu's `suite()`, except that a failing `before` hook is reported. uvu itself swallows that error
 * (its runner returns from a `finally`): the suite then prints "(0 / N)" in green with no reason and
 * leaves the exit code at 0. Here the error is printed with the suite's name, and scripts/test
 * counts the tests that never ran as failed.
 */
import { suite as uvuSuite, type Callback, type Test } from 'uvu';

export function suite<T extends object = Record<string, unknown>>(name: string, state?: T): Test<T> {
  const s = uvuSuite<T>(name, state);
  const register = s.before;
  const before = ((fn: Callback<T>) =>
    register(async (ctx) => {
      try {
        await fn(ctx);
      } catch (err) {
        console.error(`\n  ${name}: the suite's setup failed, none of its tests ran:\n`, err);
        throw err;
      }
    })) as Test<T>['before'];
  before.each = register.each;
  s.before = before;
  return s;
}
