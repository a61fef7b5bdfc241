/**
 * Milliseconds on the monotonic clock, for deadlines kept in memory only: a step of the wall clock (NTP
 * correcting a clock at boot, a VM restored) must not stretch them by hours. Never stored, never
 * compared with Date.now().
 */
export function monotonicNow(): number {
  return performance.now();
}
