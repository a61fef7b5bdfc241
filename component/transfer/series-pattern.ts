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
 * request is whoever's series it touches. Checked against every subject on the XMPP thread, with a
 * remote party's glob on one side: the cheap refusals first (literal ends that differ, a literal run
 * that one side lacks), a single pass when one side is an identifier, and only then the table over
 * both patterns, O(|a|·|b|) without allocation per cell.
 */
export function patternsOverlap(a: string, b: string): boolean {
  if (!endsAgree(a, b)) return false;
  const aGlob = isPattern(a);
  const bGlob = isPattern(b);
  if (!aGlob || !bGlob) {
    if (!aGlob && !bGlob) return a === b;
    const [glob, id] = aGlob ? [a, b] : [b, a];
    return literalRunsIn(glob, id) && globMatch(glob, id);
  }
  return overlapTable(a, b);
}

/** The two patterns agree character by character up to the first `*` of either, from the start and from the end. */
function endsAgree(a: string, b: string): boolean {
  const same = (x: string, y: string) => x === y || x === '?' || y === '?';
  for (let k = 0; k < a.length && k < b.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (x === '*' || y === '*') break;
    if (!same(x, y)) return false;
  }
  for (let i = a.length - 1, j = b.length - 1; i >= 0 && j >= 0; i--, j--) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === '*' || y === '*') break;
    if (!same(x, y)) return false;
  }
  return true;
}

/**
 * Necessary for a match, and cheap: `id` is at least as long as the characters `glob` must match, and
 * each run of plain characters of `glob` occurs somewhere in it.
 */
function literalRunsIn(glob: string, id: string): boolean {
  if (glob.replaceAll('*', '').length > id.length) return false;
  for (const run of glob.split(/[*?]+/)) if (run && !id.includes(run)) return false;
  return true;
}

/** The overlap of two globs, row by row from their ends: row i says whether a[i:] and b[j:] overlap. */
function overlapTable(a: string, b: string): boolean {
  const n = b.length;
  let next = new Uint8Array(n + 1); // row i + 1
  let row = new Uint8Array(n + 1);
  // Row a.length: only b's remaining stars can match nothing.
  next[n] = 1;
  for (let j = n - 1; j >= 0; j--) next[j] = b[j] === '*' && next[j + 1] ? 1 : 0;
  for (let i = a.length - 1; i >= 0; i--) {
    const x = a[i]!;
    row[n] = x === '*' ? next[n]! : 0;
    for (let j = n - 1; j >= 0; j--) {
      const y = b[j]!;
      if (x === '*') row[j] = next[j] || row[j + 1] ? 1 : 0;
      else if (y === '*') row[j] = row[j + 1] || next[j] ? 1 : 0;
      else row[j] = (x === y || x === '?' || y === '?') && next[j + 1] ? 1 : 0;
    }
    [next, row] = [row, next];
  }
  return next[0] === 1;
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
