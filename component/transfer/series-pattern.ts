/**
 * Series patterns: an identifier, or a glob where `*` matches any run of characters and `?` one
 * character (as SQLite's GLOB, which the store uses for the same patterns).
 */
export function isPattern(s: string): boolean {
  return s.includes('*') || s.includes('?');
}

export function seriesMatcher(pattern: string): (series: string) => boolean {
  if (!isPattern(pattern)) return (s) => s === pattern;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return (s) => re.test(s);
}
