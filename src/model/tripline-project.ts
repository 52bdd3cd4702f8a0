// Where Tripline lives: the one project URL that the help, the SARIF tool block, the systemd
// unit and package.json all name, and the installed package's own documentation files.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_URL = 'https://github.com/tripline-dev/tripline';

/** The installed package's root directory (this file is src/model/ or dist/model/ under it). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Where a reader finds a recipe's documentation: an http(s) URL as written; a path inside the
 * package (docs/…) as the installed file, which `npm i -g` puts outside any checkout, or on the
 * project's site when the package has no such file; anything else as written.
 */
export function documentationLink(documentation: string, root: string = PACKAGE_ROOT): string {
  if (/^https?:\/\/\S+$/.test(documentation)) return documentation;
  const relative = documentation.replace(/^\.\//, '');
  if (!/^docs\/[\w./-]+$/.test(relative) || relative.includes('..')) return documentation;
  const local = join(root, relative);
  return existsSync(local) ? local : `${PROJECT_URL}/blob/main/${relative}`;
}
