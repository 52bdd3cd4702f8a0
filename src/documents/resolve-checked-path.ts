// Resolving a path component by component, following symlinks as the kernel does, with a
// check of every entry met on the way (links included) against the directory holding it: the
// base of the rules about what another local user could have planted (outputs, configuration,
// recipes).

import { lstatSync, readlinkSync, type Stats } from 'node:fs';

/** One entry met on the way, and the directory it was found in. */
export interface PathStep {
  /** The entry's path, spelled through the real directories resolved so far. */
  readonly path: string;
  /** lstat of the entry: a symlink is seen as itself. */
  readonly st: Stats;
  readonly parentPath: string;
  readonly parent: Stats;
}

/** What the walk found: the real path (no symlink left) and lstat of its last component. */
export interface CheckedPath {
  readonly real: string;
  readonly st: Stats;
}

/** Symlinks followed before giving up, as the kernel's limit. */
const MAX_LINKS = 40;

/**
 * Resolves absolute `path` one component at a time; `check` sees every entry (directory,
 * symlink, the last component) before it is used and throws to refuse it. `..` goes up from
 * the real directory reached, as the kernel does. lstat errors (a missing component) are
 * thrown as they are.
 */
export function resolveCheckedPath(path: string, check: (step: PathStep) => void): CheckedPath {
  if (!path.startsWith('/')) throw new Error(`not an absolute path: ${path}`);
  const todo = path.split('/');
  let real: string[] = [];
  let parent = lstatSync('/');
  let links = 0;
  const at = (parts: readonly string[]): string => `/${parts.join('/')}`;
  while (todo.length > 0) {
    const c = todo.shift() ?? '';
    if (c === '' || c === '.') continue;
    if (c === '..') {
      real.pop();
      parent = lstatSync(at(real));
      continue;
    }
    const here = at([...real, c]);
    const st = lstatSync(here);
    check({ path: here, st, parentPath: at(real), parent });
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw Object.assign(new Error(`too many symbolic links on the way to ${path}`), { code: 'ELOOP' });
      const target = readlinkSync(here);
      if (target.startsWith('/')) {
        real = [];
        parent = lstatSync('/');
      }
      todo.unshift(...target.split('/'));
      continue;
    }
    if (todo.some((x) => x !== '' && x !== '.') && !st.isDirectory()) {
      throw Object.assign(new Error(`${here} is not a directory`), { code: 'ENOTDIR' });
    }
    real.push(c);
    parent = st;
  }
  return { real: at(real), st: parent };
}
