// Finding programs. The wrapped command the way execvp does (a name with a slash is used as
// is, otherwise each PATH entry is tried), so tripline answers 127/126 like a shell instead of
// tracing a failure. The sensor programs tripline itself runs, often as root (strace,
// bpftrace, mount, mkfifo), only in fixed system directories: never PATH, never relative.

import { accessSync, constants, lstatSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';

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

/** The sticky bit (node's fs.constants has no S_ISVTX). */
const S_ISVTX = 0o1000;

/**
 * Where sensor programs are looked for, in this order: the distribution's directories first
 * (/sbin and /bin are links to them on merged-/usr systems), the administrator's /usr/local
 * last (on some systems it is writable by the staff group).
 */
export const SENSOR_PROGRAM_DIRS: readonly string[] = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];

/** The program to run, or why there is none (a sentence naming where it looked). */
export type SensorProgram = { readonly path: string } | { readonly problem: string };

/** `path` and the directories above it, from / down. */
function withAncestors(path: string): string[] {
  const out: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    out.unshift(p);
    if (p === '/' || p === '.') return out;
  }
}

/**
 * Why root should not run `path`, or undefined: the file, every directory above it (as
 * spelled and once resolved) and every link on the way must belong to root, the file must not
 * be writable by group or others, nor any directory unless it has the sticky bit (like /tmp:
 * there only an entry's owner, root here, can rename it). Otherwise another user could swap
 * the program.
 */
export function notRootOnly(path: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    return (error as Error).message;
  }
  for (const p of new Set([...withAncestors(path), ...withAncestors(real)])) {
    let st;
    try {
      st = lstatSync(p);
    } catch (error) {
      return (error as Error).message;
    }
    if (st.uid !== 0) return `${p} belongs to uid ${String(st.uid)}, not to root`;
    if (st.isSymbolicLink() || (st.mode & 0o022) === 0 || (st.isDirectory() && (st.mode & S_ISVTX) !== 0)) continue;
    return `${p} is writable by ${(st.mode & 0o002) !== 0 ? 'everyone' : 'its group'}`;
  }
  return undefined;
}

export interface SensorProgramOptions {
  /** The variable that may give the program's absolute path instead (TRIPLINE_STRACE...), and the environment holding it. */
  readonly variable?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** The effective uid deciding the root-only check (this process's by default). */
  readonly euid?: number | undefined;
}

/**
 * A program tripline runs itself: `variable` (TRIPLINE_STRACE...) when set, which must be an
 * absolute path; otherwise the first executable `name` in SENSOR_PROGRAM_DIRS. As root (euid
 * 0), only a program nobody but root could have replaced (notRootOnly); one that is not is
 * passed over and named in the problem.
 */
export function findSensorProgram(name: string, options: SensorProgramOptions = {}): SensorProgram {
  const { variable, euid = process.geteuid?.() } = options;
  const override = variable === undefined ? undefined : options.env?.[variable];
  if (variable !== undefined && override !== undefined && override !== '') {
    if (!isAbsolute(override)) {
      return { problem: `${variable}=${override} is not an absolute path; tripline never looks its sensor programs up on PATH or in the working directory: give the full path, like /usr/bin/${name}` };
    }
    if (!executable(override)) return { problem: `${variable}=${override} is not an executable file` };
    const unsafe = euid === 0 ? notRootOnly(override) : undefined;
    return unsafe === undefined ? { path: override } : { problem: `${variable}=${override} is not safe to run as root: ${unsafe}` };
  }
  const passedOver: string[] = [];
  for (const dir of SENSOR_PROGRAM_DIRS) {
    const candidate = join(dir, name);
    if (!executable(candidate)) continue;
    const unsafe = euid === 0 ? notRootOnly(candidate) : undefined;
    if (unsafe === undefined) return { path: candidate };
    passedOver.push(`${candidate} (${unsafe})`);
  }
  const how = `PATH is not searched${variable === undefined ? '' : `; ${variable} can give its full path`}`;
  if (passedOver.length > 0) return { problem: `no ${name} safe to run as root in ${SENSOR_PROGRAM_DIRS.join(', ')} (${how}): ${passedOver.join('; ')}` };
  return { problem: `${name} is not installed in ${SENSOR_PROGRAM_DIRS.join(', ')} (${how})` };
}
