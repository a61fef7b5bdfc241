/**
 * MQTT topic filters and templates, as pure functions. A filter's wildcards capture what they matched:
 * each `+` one level, `#` the rest, numbered from 1 — `meters/+/power` on `meters/301/power` gives
 * `{1}` = `301`, for templates such as `urn:dev:prm:{1}_consumption/power/active/raw`.
 */

/** Captures of `filter` matching `topic`, or null. Topics starting with `$` match no wildcard at their first level (MQTT 3.1.1 §4.7.2). */
export function matchTopic(filter: string, topic: string): string[] | null {
  const f = filter.split('/');
  const t = topic.split('/');
  const captures: string[] = [];
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') {
      if (i === 0 && topic.startsWith('$')) return null;
      captures.push(t.slice(i).join('/'));
      return captures;
    }
    if (i >= t.length) return null;
    if (level === '+') {
      if (i === 0 && topic.startsWith('$')) return null;
      captures.push(t[i]!);
    } else if (level !== t[i]) return null;
  }
  return f.length === t.length ? captures : null;
}

/** Whether `filter` is a valid MQTT subscription filter (`#` last and alone in its level, `+` alone in its level). */
export function validFilter(filter: string): boolean {
  if (filter === '') return false;
  const levels = filter.split('/');
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'));
}

/** Number of wildcards in a filter: the highest `{n}` a template over it may use. */
export function wildcardCount(filter: string): number {
  return filter.split('/').filter((l) => l === '+' || l === '#').length;
}
