// The cgroup path of a cgroup v2 id, for `watch`: the kernel's bpf_get_current_cgroup_id() (in
// the eBPF sensors' EXEC and FORK records) is the inode number of the cgroup's directory on the
// cgroup2 mount, so the mount is walked for it. A process's cgroup is known this way even when
// the process is gone before /proc/PID/cgroup is read. Cached and bounded; cgroup directory
// names can be made by whoever a subtree is delegated to: no link is followed, depth and count
// are bounded, and the path is only matched against the runtimes' layouts from the root. A walk
// of the whole mount is slow on a big node (15,000 cgroups: 574-852 ms) and runs on the event
// path, and any user can make new cgroups (each a new id): a walk goes only where a runtime puts
// containers (never into a user's or a service's subtree), and walks are rate-limited by their
// own cost, whatever asks.

import { lstatSync, opendirSync, readFileSync } from 'node:fs';
import { mayHoldContainer } from './container-cgroup-layout.ts';

/** Directories a walk visits at most (a node with many pods has a few thousand). */
const WALK_LIMIT = 16_384;
/** How deep a walk goes (kubepods.slice/…/cri-containerd-<id>.scope is 4 or 5). */
const DEPTH_LIMIT = 32;
/** Ids remembered (the oldest forgotten first). */
const CACHE_LIMIT = 8_192;
/** Walks are at least this far apart (ms)... */
const WALK_INTERVAL_MS = 250;
/** ...and, after a walk that took t ms, t times this (a walk takes at most 1/20 of the event loop's time). */
const WALK_COST_FACTOR = 20;

/** What is read of the cgroup2 file system. */
export interface CgroupFs {
  /** The text of /proc/self/mountinfo. */
  mountinfo(): string | undefined;
  /** The inode number of the directory `path` (not followed if a link), or undefined. */
  inode(path: string): bigint | undefined;
  /** The names of up to `limit` sub-directories of `path` (links and files left out), or undefined. */
  subdirectories(path: string, limit: number): string[] | undefined;
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
  subdirectories(path, limit) {
    let dir;
    try {
      dir = opendirSync(path);
    } catch {
      return undefined;
    }
    try {
      const names: string[] = [];
      for (let d = dir.readSync(); d !== null && names.length < limit; d = dir.readSync()) if (d.isDirectory()) names.push(d.name);
      return names;
    } catch {
      return undefined;
    } finally {
      dir.closeSync();
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
 * Maps cgroup v2 ids to cgroup paths (as /proc/PID/cgroup's `0::` line gives them) by walking the
 * cgroup2 mount where containers can be (`descend`: the runtimes' layouts); other cgroups are
 * not mapped (they are the host's).
 */
export class CgroupPaths {
  private readonly paths = new Map<bigint, string>();
  private mount: { readonly mountPoint: string; readonly root: string } | null | undefined;
  /** When the next walk may start (the clock's ms). */
  private nextWalkMs = Number.NEGATIVE_INFINITY;
  /** Walks made (for tests and the health line). */
  walks = 0;

  constructor(
    private readonly fs: CgroupFs = LIVE_CGROUP_FS,
    private readonly nowMs: () => number = Date.now,
    /** Whether a walk lists the sub-directories of the cgroup at these components from the root. */
    private readonly descend: (parts: readonly string[]) => boolean = (parts) => mayHoldContainer(parts),
  ) {}

  /** The path known for `id` without walking, or undefined. */
  peek(id: bigint): string | undefined {
    return this.paths.get(id);
  }

  /**
   * The cgroup path of `id` (e.g. `/libpod_parent/libpod-<64 hex>`), or undefined: no cgroup2
   * mount, no directory has that id (removed before it was looked up), or not known and no walk
   * is due. Walks the mount when not known, at most 4 times a second and never sooner than 20
   * times the last walk's duration after it: however many new ids are asked about (any user can
   * make cgroups), walks take at most a twentieth of the time. Measured here (a loaded 2-core
   * machine): a walk of the whole mount took 40 ms (median; 110 ms at most) for 554 cgroups,
   * 574-852 ms for 15,000; a walk of the runtimes' directories alone visits the root's children,
   * the runtimes' parents and the containers.
   */
  pathOf(id: bigint): string | undefined {
    const known = this.paths.get(id);
    if (known !== undefined) return known;
    if (this.nowMs() >= this.nextWalkMs) this.walk();
    return this.paths.get(id);
  }

  /** Remembers the whole `path` for `id` (from a record's names); a path already known stands. */
  learn(id: bigint, path: string): string {
    const known = this.paths.get(id);
    if (known !== undefined) return known;
    this.remember(id, path);
    return path;
  }

  private walk(): void {
    const start = this.nowMs();
    this.nextWalkMs = start + WALK_INTERVAL_MS;
    if (this.mount === undefined) {
      const text = this.fs.mountinfo();
      this.mount = text === undefined ? null : (cgroup2Mount(text) ?? null);
    }
    if (this.mount === null) return;
    this.walks++;
    const { mountPoint, root } = this.mount;
    const base = mountPoint === '/' ? '' : mountPoint;
    const prefix = root === '/' ? '' : root;
    // Breadth first: the shallow cgroups (where runtimes put containers) before a deep subtree
    // uses up the limit. No more directories are queued than the walk visits.
    let level: string[] = [''];
    let queued = 1;
    for (let depth = 0; depth <= DEPTH_LIMIT && level.length > 0; depth++) {
      const next: string[] = [];
      for (const rel of level) {
        const ino = this.fs.inode(`${base}${rel}` || '/');
        if (ino === undefined) continue;
        this.remember(ino, `${prefix}${rel}` || '/');
        if (queued >= WALK_LIMIT || depth === DEPTH_LIMIT || !this.descend(rel === '' ? [] : rel.slice(1).split('/'))) continue;
        for (const name of this.fs.subdirectories(`${base}${rel}` || '/', WALK_LIMIT - queued) ?? []) {
          if (queued >= WALK_LIMIT) break;
          next.push(`${rel}/${name}`);
          queued++;
        }
      }
      level = next;
    }
    const took = Math.max(0, this.nowMs() - start);
    this.nextWalkMs = start + took + Math.max(WALK_INTERVAL_MS, took * WALK_COST_FACTOR);
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
