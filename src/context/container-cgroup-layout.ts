// Where container runtimes put their containers' cgroups, anchored at the cgroup root: a container
// is recognised only at the depth and under the directories its runtime uses. A name alone proves
// nothing: whoever a cgroup subtree is delegated to (every logged-in user under user.slice, a
// container with a writable cgroupfs) can make `libpod-<any id>` inside it, but only root makes
// directories at the root and in a runtime's root-owned parents (/docker, /libpod_parent,
// /machine.slice, /system.slice, /kubepods*), and a delegated subtree is always deeper.

import type { ContainerRuntime } from '../model/container.ts';

export interface CgroupContainer {
  readonly id: string;
  readonly runtime: ContainerRuntime;
}

const HEX64 = '([0-9a-f]{64})';
/** The kubelet's pod directory's uid part (a UUID; a static pod's is a hash): "-" in cgroupfs names, "_" in systemd's. */
const POD_UID = '[0-9A-Za-z_-]{1,128}';

/** systemd's unit-name escaping (\x2d for "-"), undone for a machine name. */
function unescapeUnit(text: string): string {
  return text.replace(/\\x([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

type Matcher = (name: string) => CgroupContainer | null;

function idIn(pattern: RegExp, runtime: ContainerRuntime): Matcher {
  return (name) => {
    const m = pattern.exec(name);
    return m?.[1] === undefined ? null : { id: m[1], runtime };
  };
}

/** systemd-nspawn's machine-<name>.scope (libvirt's qemu machines are not containers). */
const nspawn: Matcher = (name) => {
  const m = /^machine-(.+)\.scope$/.exec(name);
  if (m?.[1] === undefined) return null;
  const machine = unescapeUnit(m[1]);
  return machine !== '' && machine.length <= 64 && !machine.startsWith('qemu-') ? { id: machine, runtime: 'systemd-nspawn' } : null;
};

/** How a runtime names a container's directory: a pattern whose group 1 is the id. */
export type ContainerNamePatterns = readonly (readonly [RegExp, ContainerRuntime])[];

/** The CRI runtimes' names in a kubelet's pod directory (conmon's crio-conmon-<id> is not the container). */
export const POD_CONTAINER_NAMES: ContainerNamePatterns = [
  [new RegExp(`^cri-containerd-${HEX64}\\.scope$`), 'containerd'],
  [new RegExp(`^crio-${HEX64}(?:\\.scope)?$`), 'cri-o'],
  [new RegExp(`^docker-${HEX64}\\.scope$`), 'docker'],
];

/** A container directory in a kubelet's pod directory: a runtime's name, or the bare id (containerd's cgroupfs manager). */
function podContainer(names: ContainerNamePatterns): Matcher {
  return (name) => {
    for (const [pattern, runtime] of names) {
      const found = idIn(pattern, runtime)(name);
      if (found !== null) return found;
    }
    return idIn(new RegExp(`^${HEX64}$`), 'kubernetes')(name);
  };
}

/** One layout: the directories from the root's child down, the last one the container's. */
interface Layout {
  readonly above: readonly RegExp[];
  /** The container's directory, given the pod directory's container names. */
  readonly container: (pod: ContainerNamePatterns) => Matcher;
}

/**
 * The layouts measured or read from the runtimes' sources. podman with runc and cgroupfs (measured
 * here): /libpod_parent/libpod-<id>; podman with systemd: /machine.slice/libpod-<id>.scope, in a
 * pod /machine.slice/machine-libpod_pod_<pod>.slice/libpod-<id>.scope; docker: /docker/<id>
 * (cgroupfs), /system.slice/docker-<id>.scope (systemd); systemd-nspawn:
 * /machine.slice/machine-<name>.scope. The kubelet (pkg/kubelet/cm: the pod directory is "pod" +
 * uid, under kubepods for a Guaranteed pod, else under its QoS class's; the systemd driver joins
 * the names with "-" into slices and turns the uid's "-" into "_"):
 * /kubepods[/burstable|/besteffort]/pod<uid>/<container> and
 * /kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid>.slice/<container>.
 */
const LAYOUTS: readonly Layout[] = [
  { above: [/^docker$/], container: () => idIn(new RegExp(`^${HEX64}$`), 'docker') },
  { above: [/^system\.slice$/], container: () => idIn(new RegExp(`^docker-${HEX64}\\.scope$`), 'docker') },
  { above: [/^libpod_parent$/], container: () => idIn(new RegExp(`^libpod-${HEX64}$`), 'podman') },
  { above: [/^machine\.slice$/], container: () => idIn(new RegExp(`^libpod-${HEX64}\\.scope$`), 'podman') },
  { above: [/^machine\.slice$/, /^machine-libpod_pod_[0-9a-f]{64}\.slice$/], container: () => idIn(new RegExp(`^libpod-${HEX64}\\.scope$`), 'podman') },
  { above: [/^machine\.slice$/], container: () => nspawn },
  { above: [/^kubepods$/, new RegExp(`^pod${POD_UID}$`)], container: podContainer },
  { above: [/^kubepods$/, /^burstable$/, new RegExp(`^pod${POD_UID}$`)], container: podContainer },
  { above: [/^kubepods$/, /^besteffort$/, new RegExp(`^pod${POD_UID}$`)], container: podContainer },
  { above: [/^kubepods\.slice$/, new RegExp(`^kubepods-pod${POD_UID}\\.slice$`)], container: podContainer },
  { above: [/^kubepods\.slice$/, /^kubepods-burstable\.slice$/, new RegExp(`^kubepods-burstable-pod${POD_UID}\\.slice$`)], container: podContainer },
  { above: [/^kubepods\.slice$/, /^kubepods-besteffort\.slice$/, new RegExp(`^kubepods-besteffort-pod${POD_UID}\\.slice$`)], container: podContainer },
];

/** The directories at depth 1 any layout starts with. */
const TOPS: readonly RegExp[] = [...new Set(LAYOUTS.map((l) => l.above[0]).filter((r): r is RegExp => r !== undefined))];

/** The deepest container directory of any layout. */
export const DEEPEST_CONTAINER = Math.max(...LAYOUTS.map((l) => l.above.length + 1));

/**
 * The container an absolute cgroup path (as /proc/PID/cgroup gives it, `/` the root) is in, or
 * null: its directories matched from the root against each layout, and the first container met
 * from the root wins (a process in container A that made a nested `libpod-B` is still in A). A
 * path that is not absolute (`/../x`: read in another cgroup namespace) or has empty, `.` or `..`
 * components is not anchored: the host.
 */
export function containerFromAnchoredPath(path: string, pod: ContainerNamePatterns = POD_CONTAINER_NAMES, namespaceDepth = 0): CgroupContainer | null {
  if (!path.startsWith('/')) return null;
  let parts = path === '/' ? [] : path.slice(1).split('/');
  // Read in a cgroup namespace (a Kubernetes pod's, on cgroup v2) whose root is at depth d, a
  // path outside it starts with d `..` to the real root: from there it is anchored.
  if (namespaceDepth > 0) {
    let up = 0;
    while (parts[up] === '..') up++;
    if (up !== namespaceDepth) return null;
    parts = parts.slice(up);
  }
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return null;
  let best: { depth: number; found: CgroupContainer } | undefined;
  for (const layout of LAYOUTS) {
    const depth = layout.above.length;
    if (parts.length <= depth || (best !== undefined && best.depth <= depth)) continue;
    if (!layout.above.every((r, i) => r.test(parts[i] ?? ''))) continue;
    const found = layout.container(pod)(parts[depth] ?? '');
    if (found !== null) best = { depth, found };
  }
  return best?.found ?? null;
}

/**
 * Whether a walk of the cgroup2 mount goes into the directory at `parts` (its components from
 * the root): the root, a directory on a layout's way to a container's, or a container's own (its
 * sub-cgroups are the container's too). Nothing else can hold a container, so a walk never lists
 * a user's or a service's subtree, however many cgroups they make there.
 */
export function mayHoldContainer(parts: readonly string[], pod: ContainerNamePatterns = POD_CONTAINER_NAMES): boolean {
  if (parts.length === 0) return true;
  return LAYOUTS.some((layout) => {
    const depth = layout.above.length;
    if (parts.length > depth + 1) return false;
    for (let i = 0; i < parts.length && i < depth; i++) if (layout.above[i]?.test(parts[i] ?? '') !== true) return false;
    return parts.length <= depth || layout.container(pod)(parts[depth] ?? '') !== null;
  });
}

/**
 * The depth of the cgroup namespace's root the reader is in, from /proc/1/cgroup (the host's init,
 * at the root or /init.scope, seen with the host's pids): the count of `..` its cgroup v2 path
 * starts with; 0 in the root namespace or when unknown.
 */
export function cgroupNamespaceDepth(initCgroup: string | undefined): number {
  const line = initCgroup?.split('\n').find((l) => l.startsWith('0::'));
  if (line === undefined) return 0;
  const parts = line.slice(3).split('/').slice(1);
  let up = 0;
  while (parts[up] === '..') up++;
  return up;
}

/** What the compiled sensor's EXEC says of a cgroup, read in the kernel. */
export interface KernelCgroupNames {
  /** The cgroup's directory name and its parent's. */
  readonly leaf?: string;
  readonly parent?: string;
  /** Its depth (the root is 0). */
  readonly level?: number;
  /** The name of its directory at depth 1 (empty deeper than 4). */
  readonly top?: string;
}

function component(name: string | undefined): name is string {
  return name !== undefined && name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/**
 * The container the kernel's names place a cgroup in: a container, null (the host: decided), or
 * undefined when the names cannot tell (none given, or a cgroup deep enough that a directory
 * between its top and its parent is unknown: the caller maps the cgroup's id to its whole path).
 * Depth 1 to 3: the whole path is `/top/parent/leaf`. Depth 4: only a container's own directory
 * at that depth under the kubelet's pod directory and kubepods (the directory between, a QoS
 * class's, is the kubelet's: a container's own directory below kubepods is deeper or never
 * named like a pod's). Under a top no layout starts with: the host at any depth.
 */
export function containerFromKernelNames(names: KernelCgroupNames, pod: ContainerNamePatterns = POD_CONTAINER_NAMES): CgroupContainer | null | undefined {
  const { leaf, parent, level, top } = names;
  if (level === undefined || !Number.isSafeInteger(level) || level < 0) return undefined;
  if (level === 0) return null;
  if (!component(leaf)) return undefined;
  if (level === 1) return null;
  if (!component(top) || !component(parent)) return undefined;
  if (!TOPS.some((r) => r.test(top))) return null;
  if (level === 2) return parent === top ? containerFromAnchoredPath(`/${top}/${leaf}`, pod) : undefined;
  if (level === 3) return containerFromAnchoredPath(`/${top}/${parent}/${leaf}`, pod);
  if (level === DEEPEST_CONTAINER) {
    for (const layout of LAYOUTS) {
      if (layout.above.length + 1 !== level) continue;
      const [first] = layout.above;
      const last = layout.above[layout.above.length - 1];
      if (first?.test(top) !== true || last?.test(parent) !== true) continue;
      const found = layout.container(pod)(leaf);
      if (found !== null) return found;
    }
  }
  return undefined;
}

/** The whole path the kernel's names give (depth 1 to 3), to remember for the cgroup's id; else undefined. */
export function pathFromKernelNames(names: KernelCgroupNames): string | undefined {
  const { leaf, parent, level, top } = names;
  if (!component(leaf)) return undefined;
  if (level === 1) return `/${leaf}`;
  if (!component(parent) || !component(top)) return undefined;
  if (level === 2) return parent === top ? `/${top}/${leaf}` : undefined;
  if (level === 3) return `/${top}/${parent}/${leaf}`;
  return undefined;
}
