/**
 * Series patterns: an identifier, or a glob where `*` matches any run of characters and `?` one
 * character (as SQLite's GLOB, which the store uses for the same patterns).
 */
export function isPattern(s: string): boolean {
  return s.includes('*') || s.includes('?');
}

export function seriesMatcher(pattern: string): (series: string) => boolean {
  if (!isPattern(pattern)) return (s) => s === pattern;
  return (s) => globMatch(pattern, s);
}

/**
 * `*` and `?` matching without a regular expression: a pattern with many `*` compiled to a regex
 * backtracks exponentially (`*a*a*a*a*a*a*b` against a long identifier held the XMPP thread for
 * seconds). Here one backtrack point, the last `*`: at most |pattern| x |series| steps.
 */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let resume = 0;
  while (i < s.length) {
    const c = pattern[p];
    if (c === '*') {
      star = p++;
      resume = i;
    } else if (c !== undefined && (c === '?' || c === s[i])) {
      p++;
      i++;
    } else if (star >= 0) {
      p = star + 1;
      i = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * True when some identifier matches both patterns (their sets of series intersect): who decides for a
 * request is whoever's series it touches. Dynamic programming over both patterns, O(|a|·|b|).
 */
export function patternsOverlap(a: string, b: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    if (i === a.length && j === b.length) return true;
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let r = false;
    if (i < a.length && a[i] === '*') r = go(i + 1, j) || (j < b.length && go(i, j + 1));
    else if (j < b.length && b[j] === '*') r = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else if (i < a.length && j < b.length) r = (a[i] === b[j] || a[i] === '?' || b[j] === '?') && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}

/**
 * True when every identifier `inner` matches also matches `outer` (inner ⊆ outer): an approval may
 * narrow a request, never widen it. Sound: `outer`'s `*` may stand for any run of `inner`'s
 * characters and wildcards, its `?` for one character or `?`, its other characters only for themselves.
 */
export function patternCovers(outer: string, inner: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    if (i === outer.length) return j === inner.length;
    const key = i * (inner.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const o = outer[i]!;
    let r: boolean;
    if (o === '*') r = go(i + 1, j) || (j < inner.length && go(i, j + 1));
    else if (j === inner.length || inner[j] === '*') r = false;
    else r = (o === '?' || o === inner[j]) && go(i + 1, j + 1);
    memo.set(key, r);
    return r;
  };
  return go(0, 0);
}
