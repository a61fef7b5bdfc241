/** Percentiles and the printed comparison every benchmark ends with. */

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export interface Row {
  figure: string;
  value: number;
  baseline: number;
  unit: string;
  /** true when a larger value is better (throughput), false for latencies. */
  higherIsBetter: boolean;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Prints `figure  value  baseline  ratio` rows; the ratio is value/baseline. */
export function printTable(title: string, baselineName: string, rows: Row[]): void {
  const header = ['figure', 'fedgate', baselineName, 'ratio'];
  const body = rows.map((r) => [r.figure, `${fmt(r.value)} ${r.unit}`, `${fmt(r.baseline)} ${r.unit}`, `${(r.value / r.baseline).toFixed(2)}`]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ');
  process.stdout.write(`\n${title}\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('   ')}\n${body.map(line).join('\n')}\n`);
}
