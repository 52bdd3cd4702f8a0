// Which npm, yarn or pnpm package a detection comes from: a process of the subject (or above
// it) working in a package's directory under node_modules/, started by a package manager, and
// the lifecycle script whose command it runs, from that package's own package.json.

import type { DetectionProcess, PackageAttribution } from '../model/detection.ts';

/** Reads a file's text, or undefined (live: the filesystem; tests: a map). */
export type ReadText = (path: string) => string | undefined;

const PACKAGE_DIR = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)(?:\/|$)/;

function managerOf(p: DetectionProcess): PackageAttribution['manager'] | undefined {
  const words = [p.exe ?? '', ...p.argv.slice(0, 3)].map((w) => w.slice(w.lastIndexOf('/') + 1));
  if (words.some((w) => w === 'npm' || w === 'npm-cli.js' || w === 'npx' || w === 'npx-cli.js')) return 'npm';
  if (words.some((w) => w === 'yarn' || w === 'yarn.js' || w === 'yarn.cjs' || w === 'yarnpkg')) return 'yarn';
  if (words.some((w) => w === 'pnpm' || w === 'pnpm.cjs' || w === 'pnpm.js')) return 'pnpm';
  return undefined;
}

interface PackageJson {
  readonly name?: unknown;
  readonly version?: unknown;
  readonly scripts?: unknown;
}

/**
 * The package responsible, or null. `subject`, then `members`, then `ancestry` (parent first)
 * are searched for a working directory inside a package; a package manager must appear above it.
 */
export function attributePackage(
  subject: DetectionProcess, members: readonly DetectionProcess[], ancestry: readonly DetectionProcess[], read: ReadText,
): PackageAttribution | null {
  const chain = [subject, ...members, ...ancestry];
  let directory: string | undefined;
  for (const p of chain) {
    const m = p.cwd === null ? null : PACKAGE_DIR.exec(p.cwd);
    if (m?.[1] !== undefined) {
      directory = m[1];
      break;
    }
  }
  if (directory === undefined) return null;
  let manager: PackageAttribution['manager'] | undefined;
  for (const p of [subject, ...ancestry]) {
    manager = managerOf(p);
    if (manager !== undefined) break;
  }
  if (manager === undefined) return null;
  let pkg: PackageJson = {};
  try {
    const text = read(`${directory}/package.json`);
    if (text !== undefined) pkg = JSON.parse(text) as PackageJson;
  } catch {
    // Unreadable or not JSON: the directory still names the package.
  }
  const fromPath = directory.slice(directory.lastIndexOf('/node_modules/') + '/node_modules/'.length);
  const name = typeof pkg.name === 'string' && pkg.name !== '' ? pkg.name : fromPath;
  const version = typeof pkg.version === 'string' ? pkg.version : null;
  // The package manager runs a lifecycle script as `sh -c SCRIPT`: the script tells the event.
  let lifecycle: string | null = null;
  if (typeof pkg.scripts === 'object' && pkg.scripts !== null) {
    const scripts = Object.entries(pkg.scripts as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string');
    for (const p of [subject, ...ancestry]) {
      const script = p.argv[1] === '-c' ? p.argv[2] : undefined;
      const hit = script === undefined ? undefined : scripts.find(([, s]) => s === script);
      if (hit !== undefined) {
        lifecycle = hit[0];
        break;
      }
    }
  }
  return { manager, name, version, lifecycle, directory };
}
