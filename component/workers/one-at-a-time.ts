/**
 * Runs async tasks one after the other, in the order they come. The apps of a shared thread apply their
 * data through one of these: when the thread stops in the middle (a message past the heap, transfer/
 * poison.ts), exactly one app's batch was being applied, and only its row is blamed — never a
 * neighbour's batch that happened to be between its announcement and its settlement.
 */
export type OneAtATime = <T>(task: () => Promise<T>) => Promise<T>;

export function oneAtATime(): OneAtATime {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    // The next waits for this one to end, however it ends.
    tail = run.catch(() => undefined);
    return run;
  };
}
