// Patterns over a whole value that is not a path (a container image or name, a Kubernetes
// namespace or label value): exact, or a glob anchored at both ends, never a substring.

/** Only these make a glob: `*` (any characters, `/` included), `?` (one), `[...]` (a class, `[!...]` negated). */
const GLOB_CHARS = /[*?[]/;

export type TextTest = (value: string) => boolean;

/** A glob over a whole value; throws an Error saying why when it is not one. */
export function compileTextGlob(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] ?? '';
    if (ch === '*') source += '[^]*';
    else if (ch === '?') source += '[^]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) throw new Error(`"[" at ${String(i + 1)} is not closed`);
      let body = glob.slice(i + 1, end);
      const negated = body.startsWith('!');
      if (negated) body = body.slice(1);
      source += `[${negated ? '^' : ''}${body.replace(/[\\^[\]]/g, '\\$&')}]`;
      i = end;
    } else source += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  // Compiling checks the classes' ranges (z-a is an error).
  return new RegExp(`^(?:${source})$`, 'u');
}

export function isTextGlob(text: string): boolean {
  return GLOB_CHARS.test(text);
}

/** Exact values or globs; undefined when there are none (no condition). */
export function compileTextTest(patterns: readonly string[]): TextTest | undefined {
  if (patterns.length === 0) return undefined;
  const exact = new Set(patterns.filter((p) => !isTextGlob(p)));
  const globs = patterns.filter(isTextGlob).map(compileTextGlob);
  return (value) => exact.has(value) || globs.some((re) => re.test(value));
}
