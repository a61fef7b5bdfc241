/**
 * The answers one app of a shared thread encodes (get_history, list_series), made one after the
 * other. An adapter's read runs synchronously up to its first await, and the calls of a burst arrive
 * together: each read its rows before any was encoded and let go. One requester's 200 get_history of
 * 100,000 records at once ended the shared thread out of memory, and every app on it failed with it
 * (sixth hostile campaign). Now one answer is built at a time, after a turn of the event loop, so that
 * the thread serves its other apps (and answers the watchdog's ping) between two of them. A task
 * running past `limitMs` (a hung adapter; the main thread has failed its call by then) no longer holds
 * the next ones back.
 */
import { setImmediate as turn } from 'node:timers/promises';

export type AnswerQueue = <T>(task: () => Promise<T>) => Promise<T>;

export function answerQueue(limitMs: number): AnswerQueue {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(async () => {
      await turn();
      return task();
    });
    tail = tail.then(
      () =>
        new Promise<void>((next) => {
          const timer = setTimeout(next, limitMs);
          const done = () => {
            clearTimeout(timer);
            next();
          };
          run.then(done, done);
        }),
    );
    return run;
  };
}
