/**
 * Preloaded into a fedgate under test (`node --import`): on SIGUSR2 it raises, from outside fedgate's
 * code, the fault FEDGATE_TEST_FAULT names — `exception` (uncaught) or `rejection` (unhandled) — as a
 * bug would, so that the process-level policy of `fedgate start` can be tested on the real process.
 */
process.on('SIGUSR2', () => {
  if (process.env.FEDGATE_TEST_FAULT === 'rejection') void Promise.reject(new Error('injected rejection'));
  else
    setImmediate(() => {
      throw new Error('injected exception');
    });
});
export {};
