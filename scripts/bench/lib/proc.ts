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

/** CPU seconds (user + system, every thread) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) — utime and stime are the 14th and 15th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}
