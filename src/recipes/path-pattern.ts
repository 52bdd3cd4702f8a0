// Path patterns of recipes and exceptions, compiled once: prefix (a directory and everything
// below it), glob (* within one segment, ** across segments) and regex (the whole path).

import picomatch from 'picomatch';
import { isUnder } from '../model/canonical-path.ts';
import type { PathPattern } from '../model/recipe.ts';

export type PathTest = (path: string) => boolean;

/** Compiles a glob over absolute paths; throws an Error saying why when it is not one. */
export function compileGlob(glob: string): RegExp {
  if (!glob.startsWith('/')) throw new Error('a glob must be an absolute path');
  return picomatch.makeRe(glob, { dot: true, strictSlashes: true, nobrace: false, noextglob: true });
}

/** Compiles a regular expression that must match the whole string; throws a SyntaxError when it is not valid. */
export function compileAnchoredRegex(source: string): RegExp {
  // Compiled alone first, so a syntax error quotes what the user wrote.
  new RegExp(source, 'u');
  return new RegExp(`^(?:${source})$`, 'u');
}

/** Throws when the pattern does not compile (the loader turns that into a diagnostic). */
export function compilePathPattern(p: PathPattern): PathTest {
  switch (p.kind) {
    case 'prefix':
      return (path) => isUnder(path, p.value);
    case 'glob': {
      const re = compileGlob(p.value);
      return (path) => re.test(path);
    }
    case 'regex': {
      const re = compileAnchoredRegex(p.value);
      return (path) => re.test(path);
    }
  }
}

/** Only these make a glob; ( ) + @ ! are ordinary characters in an executable's path. */
const GLOB_CHARS = /[*?[{]/;

export function isGlob(text: string): boolean {
  return GLOB_CHARS.test(text);
}

/** An executable path or glob, compared with a process's canonical exe. */
export function compileExeTest(patterns: readonly string[]): PathTest | undefined {
  if (patterns.length === 0) return undefined;
  const exact = new Set(patterns.filter((p) => !isGlob(p)));
  const globs = patterns.filter(isGlob).map(compileGlob);
  return (exe) => exact.has(exe) || globs.some((re) => re.test(exe));
}
