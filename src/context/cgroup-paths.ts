// The cgroup path of a cgroup v2 id, for `watch`: the kernel's bpf_get_current_cgroup_id() (in
// the eBPF sensors' EXEC and FORK records) is the inode number of the cgroup's directory on the
// cgroup2 mount, so the mount is walked for it. A process's cgroup is known this way even when
// the process is gone before /proc/PID/cgroup is read. Cached and bounded; cgroup directory
// names can be made by whoever a subtree is delegated to: no link is followed, depth and count
// are bounded, and the path is only matched against the runtimes' patterns.

import { lstatSync, readdirSync, readFileSync } from 'node:fs';

/** Directories a walk visits at most (a node with many pods has a few thousand). */
const WALK_LIMIT = 16_384;
/** How deep a walk goes (kubepods.slice/…/cri-containerd-<id>.scope is 4 or 5). */
const DEPTH_LIMIT = 32;
/** Ids remembered (the oldest forgotten first). */
const CACHE_LIMIT = 8_192;
/** A walk is repeated for an id no newer than the last walk's newest at most this often. */
const REWALK_MS = 1_000;

/** What is read of the cgroup2 file system. */
export interface CgroupFs {
  /** The text of /proc/self/mountinfo. */
  mountinfo(): string | undefined;
  /** The inode number of the directory `path` (not followed if a link), or undefined. */
  inode(path: string): bigint | undefined;
  /** The names of the sub-directories of `path` (links and files left out), or undefined. */
  subdirectories(path: string): string[] | undefined;
}

export const LIVE_CGROUP_FS: CgroupFs = {
  mountinfo() {
    try {
      return readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return undefined;
    }
  },
  inode(path) {
    try {
      const st = lstatSync(path, { bigint: true });
      return st.isDirectory() ? st.ino : undefined;
    } catch {
      return undefined;
    }
  },
  subdirectories(path) {
    try {
      return readdirSync(path, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      return undefined;
    }
  },
};

/** mountinfo's octal escapes (\040 for a space, \011, \012, \134) undone. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * The first cgroup2 mount in a mountinfo text: where it is mounted, and the cgroup path its root
 * is (`/` unless the mount shows a subtree: a cgroup namespace or a bind mount). Undefined when
 * there is none (cgroup v1 only: the kernel's ids are then all the same, 0 or 1).
 */
export function cgroup2Mount(mountinfo: string): { readonly mountPoint: string; readonly root: string } | undefined {
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const after = line.slice(dash + 3).split(' ');
    if (after[0] !== 'cgroup2') continue;
    const before = line.slice(0, dash).split(' ');
    const root = before[3];
    const mountPoint = before[4];
    if (root === undefined || mountPoint === undefined || !mountPoint.startsWith('/') || !root.startsWith('/')) continue;
    return { mountPoint: unescapeMountinfo(mountPoint), root: unescapeMountinfo(root) };
  }
  return undefined;
}

/**
 * `/PARENT/LEAF`, the end of a cgroup's path from the names a record gave (the compiled sensor's
 * EXEC), or undefined when the leaf is not one path component (a bad parent is left out).
 */
export function pathFromNames(leaf: string, parent: string | undefined): string | undefined {
  const component = (n: string | undefined): n is string => n !== undefined && n !== '' && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');
  if (!component(leaf)) return undefined;
  return component(parent) ? `/${parent}/${leaf}` : `/${leaf}`;
}

/** Maps cgroup v2 ids to cgroup paths (as /proc/PID/cgroup's `0::` line gives them) by walking the cgroup2 mount. */
export class CgroupPaths {
  private readonly paths = new Map<bigint, string>();
  private mount: { readonly mountPoint: string; readonly root: string } | null | undefined;
  /** The newest id the last walk met: a cgroup made after it has a larger id (kernfs ids only grow). */
  private newestWalked = -1n;
  private lastWalkMs = Number.NEGATIVE_INFINITY;
  /** Walks made (for tests and the health line). */
  walks = 0;

  constructor(private readonly fs: CgroupFs = LIVE_CGROUP_FS, private readonly nowMs: () => number = Date.now) {}

  /** The path known for `id` without walking, or undefined. */
  peek(id: bigint): string | undefined {
    return this.paths.get(id);
  }

  /**
   * The cgroup path of `id` (e.g. `/libpod_parent/libpod-<64 hex>`), or undefined: no cgroup2
   * mount, or no directory has that id (removed before it was looked up). Walks the mount when
   * the id is newer than any met so far (a cgroup made since), else at most once a second.
   * Measured here: 40 ms (median; 110 ms at most) for a mount of 554 cgroups on a loaded
   * 2-core machine, so the caller walks only when a record's names cannot tell.
   */
  pathOf(id: bigint): string | undefined {
    const known = this.paths.get(id);
    if (known !== undefined) return known;
    if (id > this.newestWalked || this.nowMs() - this.lastWalkMs >= REWALK_MS) this.walk();
    return this.paths.get(id);
  }

  /** Remembers `path` (the end of one, from a record's names) for `id`; a path already known stands. */
  learn(id: bigint, path: string): string {
    const known = this.paths.get(id);
    if (known !== undefined) return known;
    this.remember(id, path);
    return path;
  }

  private walk(): void {
    if (this.mount === undefined) {
      const text = this.fs.mountinfo();
      this.mount = text === undefined ? null : (cgroup2Mount(text) ?? null);
    }
    this.lastWalkMs = this.nowMs();
    if (this.mount === null) return;
    this.walks++;
    const { mountPoint, root } = this.mount;
    const base = mountPoint === '/' ? '' : mountPoint;
    const prefix = root === '/' ? '' : root;
    // Breadth first: the shallow cgroups (where runtimes put containers) before a deep subtree uses up the limit.
    let level: string[] = [''];
    let visited = 0;
    for (let depth = 0; depth <= DEPTH_LIMIT && level.length > 0 && visited < WALK_LIMIT; depth++) {
      const next: string[] = [];
      for (const rel of level) {
        if (visited >= WALK_LIMIT) break;
        visited++;
        const ino = this.fs.inode(`${base}${rel}` || '/');
        if (ino === undefined) continue;
        this.remember(ino, `${prefix}${rel}` || '/');
        if (ino > this.newestWalked) this.newestWalked = ino;
        for (const name of this.fs.subdirectories(`${base}${rel}` || '/') ?? []) next.push(`${rel}/${name}`);
      }
      level = next;
    }
  }

  private remember(id: bigint, path: string): void {
    this.paths.delete(id);
    this.paths.set(id, path);
    if (this.paths.size > CACHE_LIMIT) {
      const oldest = this.paths.keys().next().value;
      if (oldest !== undefined) this.paths.delete(oldest);
    }
  }
}
