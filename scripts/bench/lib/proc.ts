/** What /proc says about a process under benchmark: memory (kB figures of `status`) and CPU time used. */
import { readFileSync } from 'node:fs';

/** A `kB` line of /proc/PID/status (VmRSS, VmHWM…); 0 when the process is gone. */
export function statusKb(pid: number | undefined, key: string): number {
  if (!pid) return 0;
  try {
    const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Resolves once the process uses less than `share` of a core over two intervals in a row (its start
 * done: threads up, caches loaded), or after `timeoutMs` whatever it uses.
 */
export async function waitIdle(pid: number, share = 0.1, intervalMs = 250, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  let before = cpuSeconds(pid);
  while (quiet < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const now = cpuSeconds(pid);
    quiet = now - before < (share * intervalMs) / 1000 ? quiet + 1 : 0;
    before = now;
  }
}

/** CPU seconds (user + system, every thread) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) — utime and stime are the 14th and 15th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}
