/** `{name}` templates of adapter options (topics, identifiers, URLs). */

/** Fills `{name}` placeholders; an unknown one is left as is (parseOptions refuses those beforehand). */
export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-z0-9_]+)\}/g, (m, k: string) => values[k] ?? m);
}

/** The placeholders a template uses. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{([a-z0-9_]+)\}/g)].map((m) => m[1]!);
}
