// Finding a program the way execvp does: a name with a slash is used as is, otherwise each
// PATH entry is tried. Lets tripline answer 127/126 like a shell instead of tracing a failure.

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export type Lookup = { readonly found: string } | { readonly missing: true } | { readonly notExecutable: string };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function lookUpExecutable(name: string, env: NodeJS.ProcessEnv, cwd: string): Lookup {
  if (name.includes('/')) {
    const path = name.startsWith('/') ? name : join(cwd, name);
    if (executable(path)) return { found: path };
    return exists(path) ? { notExecutable: path } : { missing: true };
  }
  let notExecutable: string | undefined;
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir === '' ? cwd : dir, name);
    if (executable(candidate)) return { found: candidate };
    if (notExecutable === undefined && exists(candidate)) notExecutable = candidate;
  }
  return notExecutable === undefined ? { missing: true } : { notExecutable };
}
