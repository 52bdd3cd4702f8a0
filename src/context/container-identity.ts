// The container each process runs in, for `watch`: the runtime and id named by its cgroup path,
// from the cgroup v2 id the kernel put in the sensor's EXEC and FORK records (cgroup-paths.ts;
// it holds for a process gone before /proc is read) and from /proc/PID/cgroup (cgroup v1 and
// v2) with its pid and mount namespace ids, read when the sensor first asks about the process;
// and, asked once per container and asynchronously, what the runtime knows (name, image,
// labels, Kubernetes pod). Nothing here waits on the event path: a detection made before the
// runtime answered shows the cgroup's id alone. /proc is written by the processes it
// describes: reads are bounded and every string is escaped by the outputs.

import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';
import type { ContainerIdentity, ContainerRuntime, ContainerView, ProcessNamespaces } from '../model/container.ts';
import type { DetectionProcess } from '../model/detection.ts';
import type { ContainerMetadata, ContainerResolver } from './runtime-client.ts';
import { cgroupNamespaceDepth, containerFromAnchoredPath, containerFromKernelNames, pathFromKernelNames } from './container-cgroup-layout.ts';
import { ProcessHistory, readAsSameProcess } from './process-history.ts';
import { LIVE_PROC_READER } from './step-attribution.ts';
import type { KernelCgroup } from '../model/kernel-cgroup.ts';

/** How much of /proc/PID/cgroup is read (a line per v1 hierarchy; a few hundred bytes in practice). */
export const CGROUP_READ_LIMIT = 64 * 1024;
/** Containers remembered (the least recently met forgotten first). */
const CONTAINER_LIMIT = 1_024;
/** Runtime questions in flight at once; a container met while they are all busy is asked about when seen again. */
const INFLIGHT_LIMIT = 16;

const HEX64 = '([0-9a-f]{64})';
/** Per cgroup path component, innermost last; conmon (podman's and cri-o's monitor) runs outside the container. */
const COMPONENT_PATTERNS: readonly [RegExp, ContainerRuntime][] = [
  [new RegExp(`^docker-${HEX64}\\.scope$`), 'docker'],
  [new RegExp(`^cri-containerd-${HEX64}\\.scope$`), 'containerd'],
  // crio-<id>.scope under systemd, crio-<id> under cri-o's cgroupfs manager.
  [new RegExp(`^crio-${HEX64}(?:\\.scope)?$`), 'cri-o'],
  [new RegExp(`^libpod-${HEX64}(?:\\.scope)?$`), 'podman'],
];

/**
 * The container one cgroup path names, matched from the root against the runtimes' layouts
 * (container-cgroup-layout.ts): a name deeper down, in a subtree delegated to a user or a
 * container, names none; of nested containers the outer one (the inner one's cgroup is made by
 * whoever runs in the outer). `namespaceDepth`: of the cgroup namespace the path was read in.
 */
export function containerFromCgroupPath(path: string, namespaceDepth = 0): { id: string; runtime: ContainerRuntime } | null {
  return containerFromAnchoredPath(path, COMPONENT_PATTERNS, namespaceDepth);
}

/**
 * The container a /proc/PID/cgroup text names, or null (the host). Lines are
 * `hierarchy:controllers:path`; the cgroup v2 line (`0::/...`) is read first, then the v1
 * lines in order, and the first that names a container wins.
 */
export function containerFromCgroup(text: string, namespaceDepth = 0): { id: string; runtime: ContainerRuntime } | null {
  const paths: string[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const path = line.slice(second + 1);
    if (line.startsWith('0::')) paths.unshift(path);
    else paths.push(path);
  }
  for (const path of paths) {
    const found = containerFromCgroupPath(path, namespaceDepth);
    if (found !== null) return found;
  }
  return null;
}

/** The inode number in a namespace link's target (`pid:[4026531836]`), or null. */
export function namespaceId(target: string | undefined, kind: 'pid' | 'mnt'): number | null {
  const m = target === undefined ? null : new RegExp(`^${kind}:\\[(\\d{1,20})\\]$`).exec(target);
  const n = m?.[1] === undefined ? NaN : Number(m[1]);
  return Number.isSafeInteger(n) ? n : null;
}

/** What is read of a live process. */
export interface ContainerProcReader {
  stat(pid: number): string | undefined;
  /** Up to `limit` bytes of /proc/PID/cgroup. */
  cgroup(pid: number, limit: number): string | undefined;
  /** The target of /proc/PID/ns/<kind>. */
  namespace(pid: number, kind: 'pid' | 'mnt'): string | undefined;
  bootTimeMs(): number | undefined;
}

function readBounded(path: string, limit: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const buffer = Buffer.allocUnsafe(limit);
    let length = 0;
    while (length < limit) {
      const n = readSync(fd, buffer, length, limit - length, null);
      if (n === 0) break;
      length += n;
    }
    return buffer.toString('utf8', 0, length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

export const LIVE_CONTAINER_PROC_READER: ContainerProcReader = {
  stat: (pid) => LIVE_PROC_READER.stat(pid),
  cgroup: (pid, limit) => readBounded(`/proc/${String(pid)}/cgroup`, limit),
  namespace(pid, kind) {
    try {
      return readlinkSync(`/proc/${String(pid)}/ns/${kind}`);
    } catch {
      return undefined;
    }
  },
  bootTimeMs: () => LIVE_PROC_READER.bootTimeMs(),
};

interface Seen {
  /** The container's id, or null on the host. */
  readonly containerId: string | null;
  /** When it was read (Unix ms): of two readings of a process, the later one stands. */
  readonly atMs: number;
}

interface SeenInProc extends Seen {
  readonly namespaces: ProcessNamespaces;
}

/** Maps a cgroup v2 id to its cgroup path (CgroupPaths). */
export interface CgroupPathResolver {
  /** Known without walking. */
  peek(id: bigint): string | undefined;
  /** Walks the cgroup2 mount when not known. */
  pathOf(id: bigint): string | undefined;
  /** Remembers a path's end from a record's names. */
  learn(id: bigint, path: string): string;
}


/** A FORK (its time) and an EXEC (the kernel's start time) of one process are this close. */
const SAME_PROCESS_MS = 10;

interface Known {
  identity: ContainerIdentity;
  state: 'asking' | 'done' | 'not-asked';
}

/** The container of each process `watch` sees, read once per exec or first sight, bounded in memory. */
export class ContainerTracker implements ContainerView {
  /** What /proc said. */
  private readonly seen = new ProcessHistory<SeenInProc>();
  /** What the kernel's cgroup ids said (the sensor's EXEC and FORK records). */
  private readonly kernel = new ProcessHistory<Seen>();
  private readonly containers = new Map<string, Known>();
  private readonly bootMs: number | undefined;
  /** The depth of the cgroup namespace's root Tripline reads /proc in (0: the host's). */
  private readonly namespaceDepth: number;
  private inflight = 0;
  /** Runtime answers that arrived (for tests and the health line). */
  resolvedCount = 0;

  constructor(
    private readonly resolver: ContainerResolver | undefined,
    private readonly proc: ContainerProcReader = LIVE_CONTAINER_PROC_READER,
    /** Told when the runtime answered about a container. */
    private readonly onResolved?: (identity: ContainerIdentity) => void,
    /** Maps the kernel's cgroup ids to paths (observeCgroup); none: they are not used. */
    private readonly cgroups?: CgroupPathResolver,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.bootMs = proc.bootTimeMs();
    // In a pod's cgroup namespace /proc shows other cgroups as /../../…: anchored past the `..`.
    this.namespaceDepth = cgroupNamespaceDepth(proc.cgroup(1, CGROUP_READ_LIMIT));
  }

  /** Reads the container of `pid` now, once per process (its exec or first line). Never throws, never waits. */
  observe(pid: number): void {
    if (this.bootMs === undefined) return;
    // Read again each time the sensor asks (the first line of a process not yet known, and each
    // exec): a process can change cgroup and namespaces before its exec (runc exec's init joins
    // the container's, then execs the command), so the last reading stands. Kept only if the pid
    // is still the same process after the reads (not one that took the pid meanwhile).
    const read = readAsSameProcess((p) => this.proc.stat(p), pid, this.bootMs, () => {
      const cgroup = this.proc.cgroup(pid, CGROUP_READ_LIMIT);
      if (cgroup === undefined) return undefined;
      return { cgroup, namespaces: { pid: namespaceId(this.proc.namespace(pid, 'pid'), 'pid'), mnt: namespaceId(this.proc.namespace(pid, 'mnt'), 'mnt') } };
    });
    if (read === undefined) return;
    const found = containerFromCgroup(read.value.cgroup, this.namespaceDepth);
    this.seen.set(pid, read.startMs, { containerId: found?.id ?? null, namespaces: read.value.namespaces, atMs: this.nowMs() });
    // learn() asks the runtime about a container met for the first time; ask() again for one that
    // could not be asked before (too many questions at once).
    if (found !== null) {
      this.learn(found.id, found.runtime);
      this.ask(found.id);
    }
  }

  /**
   * The cgroup v2 the kernel gave a process: its EXEC's (its cgroup at exec) or its FORK's (its
   * parent's as it forks). Mapped to a container from the directory's and its parent's names,
   * anchored to the root by the cgroup's depth and its depth-1 directory's name, where the EXEC
   * carried them and they tell (nothing to walk, and it holds when the cgroup is gone already):
   * a runtime's name met at another depth or under another top is a host cgroup (whoever a
   * subtree is delegated to can make any name in it). Else by walking the cgroup2 mount
   * (rate-limited by CgroupPaths) while the directory is there: for an EXEC only (a FORK's cgroup
   * is its parent's, mapped at the parent's EXEC; a child that never execs is left to its
   * ancestry). Only a cgroup that names a
   * container is kept: on a hybrid host a runtime may use the v1 hierarchies alone (its
   * processes' v2 cgroup is then a host one), so a host cgroup proves nothing, and such a process
   * is left to /proc and its ancestry, as is an id neither maps. Of a FORK and an EXEC of one
   * process, the later reading stands.
   */
  observeCgroup(seen: KernelCgroup): void {
    const { pid, startMs, atMs, id } = seen;
    const cgroups = this.cgroups;
    if (cgroups === undefined || !Number.isSafeInteger(pid) || pid <= 0 || !Number.isFinite(startMs)) return;
    const known = cgroups.peek(id);
    let found: { id: string; runtime: ContainerRuntime } | null | undefined;
    if (known !== undefined) found = containerFromCgroupPath(known);
    else {
      // The names anchored by the cgroup's depth and top directory (never a name alone).
      found = containerFromKernelNames(seen, COMPONENT_PATTERNS);
      const whole = pathFromKernelNames(seen);
      if (whole !== undefined) cgroups.learn(id, whole);
      if (found === undefined && seen.exec) {
        const path = cgroups.pathOf(id);
        if (path !== undefined) found = containerFromCgroupPath(path);
      }
    }
    if (found === null || found === undefined) return;
    const same = this.kernel.near(pid, startMs, SAME_PROCESS_MS);
    if (same !== undefined && same.value.atMs > atMs) return;
    this.kernel.set(pid, same?.startMs ?? startMs, { containerId: found.id, atMs });
    this.learn(found.id, found.runtime);
    this.ask(found.id);
  }

  private learn(id: string, runtime: ContainerRuntime): void {
    const known = this.containers.get(id);
    if (known !== undefined) {
      // Most recently used last: the least recently met container is forgotten first.
      this.containers.delete(id);
      this.containers.set(id, known);
      return;
    }
    this.containers.set(id, {
      identity: { runtime, id, name: null, image: null, imageDigest: null, labels: {}, pod: null, resolved: false },
      state: 'not-asked',
    });
    if (this.containers.size > CONTAINER_LIMIT) {
      const oldest = this.containers.keys().next().value;
      if (oldest !== undefined) this.containers.delete(oldest);
    }
    this.ask(id);
  }

  private ask(id: string): void {
    const known = this.containers.get(id);
    if (this.resolver === undefined || known?.state !== 'not-asked' || this.inflight >= INFLIGHT_LIMIT) return;
    known.state = 'asking';
    this.inflight++;
    const base = known.identity;
    void this.resolver.resolve(base.runtime, base.id).then(
      (metadata) => { this.answered(known, base, metadata); },
      () => { this.answered(known, base, undefined); },
    );
  }

  private answered(known: Known, base: ContainerIdentity, metadata: ContainerMetadata | undefined): void {
    this.inflight--;
    known.state = 'done';
    if (metadata === undefined) return;
    // A new object: exception decisions cached for the old one are made again.
    known.identity = { ...base, ...metadata, resolved: true };
    this.resolvedCount++;
    this.onResolved?.(known.identity);
  }

  /**
   * The container of the pid's holder at the process's first-seen time (undefined: predates the
   * trace, the latest): what the kernel's cgroup id or /proc said, whichever was read later (a
   * process gone before /proc was read has the kernel's alone; one that changed cgroup since its
   * exec, /proc's).
   */
  private entryOf(pid: number, firstSeenMs: number | undefined): Seen | undefined {
    const fromProc = this.seen.at(pid, firstSeenMs);
    const fromKernel = this.kernel.at(pid, firstSeenMs);
    if (fromProc === undefined) return fromKernel;
    if (fromKernel === undefined) return fromProc;
    return fromKernel.atMs > fromProc.atMs ? fromKernel : fromProc;
  }

  private identityOf(id: string): ContainerIdentity | undefined {
    return this.containers.get(id)?.identity;
  }

  /** The process's container, else (not read in time) its nearest known ancestor's; parent first. */
  containerOf(process: { readonly pid: number; readonly startMs: number | undefined }, ancestry: readonly { readonly pid: number; readonly startMs: number | undefined }[]): ContainerIdentity | null | undefined {
    for (const p of [process, ...ancestry]) {
      const entry = this.entryOf(p.pid, p.startMs);
      if (entry === undefined) continue;
      if (entry.containerId === null) return null;
      return this.identityOf(entry.containerId);
    }
    return undefined;
  }

  namespacesOf(pid: number, firstSeenMs: number | undefined): ProcessNamespaces | undefined {
    return this.seen.at(pid, firstSeenMs)?.namespaces;
  }
}

function startOf(p: DetectionProcess): number | undefined {
  if (p.start === null) return undefined;
  const ms = Date.parse(p.start);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A detection's container: the identity without the bookkeeping. */
function detectionContainer(c: ContainerIdentity): NonNullable<DetectionProcess['container']> {
  return { runtime: c.runtime, id: c.id, name: c.name, image: c.image, imageDigest: c.imageDigest, labels: c.labels, pod: c.pod };
}

/**
 * The detection with each process's container and namespaces (subject, ancestry, members) as
 * known now: each stage (opened, closed) is filled in when it is prepared, so the closed
 * detection has the runtime's name and image when the answer came in between.
 */
export function withContainers<D extends { readonly subject: { readonly process: DetectionProcess; readonly ancestry: readonly DetectionProcess[]; readonly members: readonly DetectionProcess[] } }>(
  d: D, tracker: ContainerTracker,
): D {
  const s = d.subject;
  const chain = [s.process, ...s.ancestry].map((p) => ({ pid: p.pid, startMs: startOf(p) }));
  const fill = (p: DetectionProcess, above: readonly { pid: number; startMs: number | undefined }[]): DetectionProcess => {
    const start = startOf(p);
    const container = tracker.containerOf({ pid: p.pid, startMs: start }, above);
    const namespaces = tracker.namespacesOf(p.pid, start);
    return {
      ...p,
      ...(container === undefined ? {} : { container: container === null ? null : detectionContainer(container) }),
      ...(namespaces === undefined ? {} : { namespaces }),
    };
  };
  return {
    ...d,
    subject: {
      ...s,
      process: fill(s.process, chain.slice(1)),
      ancestry: s.ancestry.map((p, i) => fill(p, chain.slice(i + 2))),
      // A member is the subject's descendant (or a fork of it): it falls back to the subject's chain.
      members: s.members.map((p) => fill(p, chain)),
    },
  };
}
