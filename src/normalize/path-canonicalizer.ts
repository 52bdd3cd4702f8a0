// Canonical paths: resolves a path the way the kernel walks it, component by component,
// through procfs's magic links (/proc/self, /proc/thread-self, /proc/<pid>/root|cwd|fd/N)
// and through symlinks whose targets were learned from the kernel's own answers.

/** What the canonicalizer may ask about other processes and learned links. */
export interface LinkResolver {
  /** The canonical cwd of a process, if known. */
  cwdOf(pid: number): string | undefined;
  /** The canonical root of a process ("/" unless chrooted), if known. */
  rootOf(pid: number): string | undefined;
  /** The canonical path an fd of a process refers to, if known. */
  fdOf(pid: number, fd: number): string | undefined;
  /** The canonical target of a symlink at this canonical path, if learned. */
  symlinkAt(path: string): string | undefined;
  /** Whether any symlink has been learned (skips per-component lookups when none). */
  readonly hasSymlinks: boolean;
}

/** How a pid spelled under a procfs maps to Tripline's pids (another pid namespace's procfs numbers its own). */
export interface PidTranslator {
  /**
   * Tripline's pid for `nsPid` under the procfs at `mountPoint` (canonical), as process `reader`
   * sees it; undefined when unknown.
   */
  translate(reader: number, mountPoint: string, nsPid: number): number | undefined;
}

export interface CanonicalContext {
  readonly pid: number;
  readonly tid: number;
  readonly links: LinkResolver;
  /** Without one, every procfs shows Tripline's pids. */
  readonly pids?: PidTranslator;
}

/** Like the kernel's MAXSYMLINKS: more link hops than this and resolution stops where it is. */
const MAX_LINK_HOPS = 40;

const DIGITS = /^\d+$/;

function splitPath(path: string): string[] {
  return path.split('/').filter((c) => c !== '' && c !== '.');
}

/** Joins components into an absolute path. */
export function joinComponents(parts: readonly string[]): string {
  return parts.length === 0 ? '/' : '/' + parts.join('/');
}

/**
 * The canonical absolute path for `path` as spelled by process `ctx.pid`, relative to `base`
 * (the cwd or the dirfd's path, itself canonical) when not absolute. `..` is applied to the
 * resolved prefix (physical semantics), as the kernel does after following a link. With
 * `followLast` false the last component is not followed (lstat, readlink, AT_SYMLINK_NOFOLLOW).
 */
export function canonicalizePath(path: string, base: string, ctx: CanonicalContext, followLast = true): string {
  const queue = path.split('/');
  let lastName = queue.length - 1;
  while (lastName > 0 && (queue[lastName] === '' || queue[lastName] === '.')) lastName--;
  let parts: string[] = path.startsWith('/') ? [] : splitPath(base);
  let hops = 0;
  // Which procfs a /proc/<N> prefix is in: the one at /proc, or one mounted elsewhere and reached through its mount point.
  let procfsAt = '/proc';
  // A pid of another namespace that could not be mapped: never looked up as one of Tripline's.
  let foreignPid = false;
  for (let qi = 0; qi < queue.length; qi++) {
    let c = queue[qi] ?? '';
    if (c === '' || c === '.') continue;
    if (c === '..') {
      parts.pop();
      if (parts.length < 2) foreignPid = false;
      continue;
    }
    if (ctx.pids !== undefined && parts.length === 1 && parts[0] === 'proc' && DIGITS.test(c)) {
      const pid = ctx.pids.translate(ctx.pid, procfsAt, Number(c));
      if (pid === undefined) foreignPid = true;
      else c = String(pid);
    }
    parts.push(c);
    if (hops >= MAX_LINK_HOPS || (!followLast && qi === lastName)) continue;
    const magic = foreignPid ? undefined : magicLink(parts, ctx);
    const target = magic ?? learnedLink(parts, ctx.links);
    if (target !== undefined) {
      hops++;
      // /proc/self stays in the procfs it was spelled in; any other link leads to Tripline's view of the path.
      if (magic === undefined) procfsAt = target === '/proc' ? joinComponents(parts) : '/proc';
      else if (!isSelfLink(parts)) procfsAt = '/proc';
      foreignPid = false;
      parts = splitPath(target);
    }
  }
  return joinComponents(parts);
}

function isSelfLink(parts: readonly string[]): boolean {
  return parts.length === 2 && parts[0] === 'proc' && (parts[1] === 'self' || parts[1] === 'thread-self');
}

function learnedLink(parts: readonly string[], links: LinkResolver): string | undefined {
  if (!links.hasSymlinks) return undefined;
  return links.symlinkAt(joinComponents(parts));
}

/** Resolves /dev/fd, /proc/self, /proc/thread-self and /proc/<pid>[/task/<tid>]/{root,cwd,fd/N} at the end of `parts`. */
function magicLink(parts: readonly string[], ctx: CanonicalContext): string | undefined {
  const n = parts.length;
  // /dev/fd is the standard symlink to /proc/self/fd.
  if (n === 2 && parts[0] === 'dev' && parts[1] === 'fd') return `/proc/${ctx.pid}/fd`;
  if (parts[0] !== 'proc') return undefined;
  const last = parts[n - 1] ?? '';
  if (n === 2) {
    if (last === 'self') return `/proc/${ctx.pid}`;
    if (last === 'thread-self') return `/proc/${ctx.pid}/task/${ctx.tid}`;
    return undefined;
  }
  const pidText = parts[1] ?? '';
  if (!DIGITS.test(pidText)) return undefined;
  const pid = Number(pidText);
  // /proc/<pid>/X or /proc/<pid>/task/<tid>/X: the link belongs to the thread's process.
  const taskForm = parts[2] === 'task' && n >= 4 && DIGITS.test(parts[3] ?? '');
  const linkAt = taskForm ? 4 : 2;
  if (n === linkAt + 1) {
    if (last === 'root') return ctx.links.rootOf(pid) ?? '/';
    if (last === 'cwd') return ctx.links.cwdOf(pid);
    return undefined;
  }
  if (n === linkAt + 2 && parts[linkAt] === 'fd' && DIGITS.test(last)) {
    return ctx.links.fdOf(pid, Number(last));
  }
  return undefined;
}
