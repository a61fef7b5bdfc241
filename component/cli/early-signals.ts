/**
 * SIGTERM and SIGINT from the very first moment: loading every command's modules takes a few hundred
 * milliseconds, and a signal then would take the default action (exit 143) — systemd stopping a unit
 * that is just starting must get a clean stop and exit 0. Imported first by scripts/fedgate.ts, alone.
 * `start` takes over the signals that came meanwhile; every other command releases them, and one that
 * came meanwhile then ends the process as it would have.
 */
const early: NodeJS.Signals[] = [];
const record = (signal: NodeJS.Signals) => void early.push(signal);
process.on('SIGTERM', record);
process.on('SIGINT', record);

function detach(): NodeJS.Signals | undefined {
  process.off('SIGTERM', record);
  process.off('SIGINT', record);
  return early[0];
}

/** `start`, once its own handlers are installed: they are given the signal that came first, if any. */
export function adoptEarlySignals(handler: (signal: NodeJS.Signals) => void): void {
  const first = detach();
  if (first) handler(first);
}

/** Any other command: signals act as usual again; one that came while loading is raised again now. */
export function releaseEarlySignals(): void {
  const first = detach();
  if (first) process.kill(process.pid, first);
}
