/**
 * The one shape of every `--json` output: a listing is `{ "total": N, "rows": [...] }` (total counts
 * every row that matches, `rows` may be limited), an object is itself; times are ISO 8601 UTC strings
 * (`2024-01-01T00:00:00.000Z`), never epoch numbers.
 */

/** ms since the epoch → ISO 8601 UTC; null stays null. */
export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/** Seconds since the epoch (Quoalise record times) → ISO 8601 UTC. */
export function isoSeconds(s: number | null | undefined): string | null {
  return s === null || s === undefined ? null : new Date(Math.round(s * 1000)).toISOString();
}

export interface JsonList<T> {
  total: number;
  rows: T[];
}

export function jsonList<T>(rows: T[], total = rows.length): JsonList<T> {
  return { total, rows };
}

/** Keys whose numbers are times in ms since the epoch (createdAt, heldUntil, notBefore, at…). */
const MS_TIME_KEY = /(At|Until)$|^(at|until|notBefore|notAfter)$/;

/**
 * A value ready for `--json`: numbers under time keys become ISO 8601 strings (0 or less, "never",
 * becomes null), at any depth.
 */
export function withIsoTimes(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => withIsoTimes(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withIsoTimes(v, k)]));
  }
  if (typeof value === 'number' && MS_TIME_KEY.test(key)) return value > 0 ? iso(value) : null;
  return value;
}
