// Pid and mount namespaces as the trace shows them, so that /proc/<N> is read the way the kernel
// reads it: N is a pid of the namespace whose procfs is being walked (the procfs mounted at that
// place in the reading process's mount namespace), not necessarily one of Tripline's.

/** Tripline's own pid namespace: its pids are the ones every sensor reports. */
export const TRIPLINE_PID_NS = 0;
const TRIPLINE_MOUNT_NS = 0;

interface Member {
  /** The pid namespace the process is in (its /proc/self, the procfs it would mount). */
  pidNs: number;
  /** Where its children start: its own, or another after unshare(CLONE_NEWPID)/setns. */
  childPidNs: number;
  /** Its pid in `pidNs`, when known. */
  nsPid: number | undefined;
  mountNs: number;
}

export interface NamespaceTableOptions {
  /** Mount and pid namespaces remembered before the oldest are forgotten. */
  readonly namespaceCapacity?: number;
}

export class NamespaceTable {
  private readonly members = new Map<number, Member>();
  /** pid namespace → its pid → Tripline's pid, for live processes. */
  private readonly pidsByNs = new Map<number, Map<number, number>>();
  /** mount namespace → canonical mount point of a procfs → the pid namespace that procfs shows. */
  private readonly procfsMounts = new Map<number, Map<string, number | undefined>>();
  /** pid namespaces whose pid 1 exists (the next process in them is not their init). */
  private readonly started = new Set<number>([TRIPLINE_PID_NS]);
  private readonly capacity: number;
  private nextId = 1;
  /** Look-ups of a pid of another namespace that the trace never numbered. */
  unmapped = 0;

  constructor(options: NamespaceTableOptions = {}) {
    this.capacity = options.namespaceCapacity ?? 1024;
    this.procfsMounts.set(TRIPLINE_MOUNT_NS, new Map([['/proc', TRIPLINE_PID_NS]]));
  }

  /** A process never announced (the monitored root, one that predates the sensor) is taken to share Tripline's namespaces. */
  private of(pid: number): Member {
    return this.members.get(pid) ?? { pidNs: TRIPLINE_PID_NS, childPidNs: TRIPLINE_PID_NS, nsPid: pid, mountNs: TRIPLINE_MOUNT_NS };
  }

  /** Whether the process is in a pid namespace other than Tripline's. */
  inForeignPidNamespace(pid: number): boolean {
    return this.of(pid).pidNs !== TRIPLINE_PID_NS;
  }

  /** The pid namespace the process is in. */
  pidNamespaceOf(pid: number): number {
    return this.of(pid).pidNs;
  }

  /**
   * A new process (not a thread). `childNsPid` is what fork returned to the parent when it differs
   * from `child` (the sensor translated it): the child's number in the parent's namespace.
   */
  fork(parent: number, child: number, options: { newPidNamespace?: boolean; newMountNamespace?: boolean; childNsPid?: number } = {}): void {
    const p = this.of(parent);
    const pidNs = options.newPidNamespace === true ? this.newId() : p.childPidNs;
    let nsPid: number | undefined;
    if (pidNs === TRIPLINE_PID_NS) nsPid = child;
    else if (!this.started.has(pidNs)) nsPid = 1; // the first process of a pid namespace is its init
    else if (pidNs === p.pidNs) nsPid = options.childNsPid ?? child; // fork returned the child's number there
    // else: a later child of an unshare(CLONE_NEWPID) caller; its number there was returned to no one.
    this.started.add(pidNs);
    const mountNs = options.newMountNamespace === true ? this.copyMountNs(p.mountNs) : p.mountNs;
    this.forget(child);
    this.members.set(child, { pidNs, childPidNs: pidNs, nsPid, mountNs });
    if (nsPid !== undefined) this.numbering(pidNs).set(nsPid, child);
  }

  /** unshare(2) or setns(2). */
  enter(pid: number, change: { mount: boolean; pidForChildren: boolean; joined: boolean }): void {
    const m = { ...this.of(pid) };
    if (change.mount) {
      if (change.joined) {
        // Another process's mount namespace: what procfs it has at /proc is not known.
        const id = this.newId();
        this.procfsMounts.set(id, new Map([['/proc', undefined]]));
        m.mountNs = id;
      } else {
        m.mountNs = this.copyMountNs(m.mountNs);
      }
    }
    if (change.pidForChildren) {
      m.childPidNs = this.newId();
      // A joined namespace already has its init; its pids were never seen.
      if (change.joined) this.started.add(m.childPidNs);
    }
    this.members.set(pid, m);
    this.trim();
  }

  /** A procfs mounted at `target` (canonical) by `pid` shows the pids of the mounter's namespace. */
  mountProcfs(pid: number, target: string): void {
    const m = this.of(pid);
    this.mountTable(m.mountNs).set(target, m.pidNs);
  }

  /** A procfs mount at `target` that shows the same pids as the one at `source` (bind or move). */
  copyProcfs(pid: number, source: string, target: string, move: boolean): void {
    const table = this.mountTable(this.of(pid).mountNs);
    if (!table.has(source)) return;
    table.set(target, table.get(source));
    if (move) table.delete(source);
  }

  /** A mount at `target` of a known pid namespace's procfs (a detached procfs attached there). */
  attachProcfs(pid: number, target: string, pidNs: number | undefined): void {
    this.mountTable(this.of(pid).mountNs).set(target, pidNs);
  }

  unmount(pid: number, target: string): void {
    const table = this.mountTable(this.of(pid).mountNs);
    if (target === '/proc') table.set(target, undefined);
    else table.delete(target);
  }

  /** The pid namespace of the procfs at `mountPoint` as `pid` sees it; undefined when unknown. */
  procfsNamespace(pid: number, mountPoint: string): number | undefined {
    const table = this.mountTable(this.of(pid).mountNs);
    return table.has(mountPoint) ? table.get(mountPoint) : table.get('/proc');
  }

  /**
   * Tripline's pid for pid `nsPid` of the procfs at `mountPoint` (canonical; '/proc' unless
   * reached through a procfs mounted elsewhere), as process `reader` sees it; undefined when the
   * trace never showed which process has that number there.
   */
  translate(reader: number, mountPoint: string, nsPid: number): number | undefined {
    const ns = this.procfsNamespace(reader, mountPoint);
    if (ns === TRIPLINE_PID_NS) return nsPid;
    const pid = ns === undefined ? undefined : this.pidsByNs.get(ns)?.get(nsPid);
    if (pid === undefined) this.unmapped++;
    return pid;
  }

  exit(pid: number): void {
    this.forget(pid);
  }

  private forget(pid: number): void {
    const m = this.members.get(pid);
    if (m === undefined) return;
    this.members.delete(pid);
    if (m.nsPid === undefined) return;
    const numbering = this.pidsByNs.get(m.pidNs);
    if (numbering?.get(m.nsPid) === pid) numbering.delete(m.nsPid);
    if (numbering?.size === 0) this.pidsByNs.delete(m.pidNs);
  }

  private numbering(pidNs: number): Map<number, number> {
    let numbering = this.pidsByNs.get(pidNs);
    if (numbering === undefined) {
      numbering = new Map();
      this.pidsByNs.set(pidNs, numbering);
    }
    return numbering;
  }

  private mountTable(mountNs: number): Map<string, number | undefined> {
    let table = this.procfsMounts.get(mountNs);
    if (table === undefined) {
      // Forgotten (bounded): nothing is known of its procfs mounts.
      table = new Map([['/proc', undefined]]);
      this.procfsMounts.set(mountNs, table);
    }
    return table;
  }

  /** A new mount namespace starts as a copy of the one it came from. */
  private copyMountNs(from: number): number {
    const id = this.newId();
    this.procfsMounts.set(id, new Map(this.mountTable(from)));
    this.trim();
    return id;
  }

  private newId(): number {
    return this.nextId++;
  }

  private trim(): void {
    while (this.procfsMounts.size > this.capacity) {
      const oldest = [...this.procfsMounts.keys()].find((k) => k !== TRIPLINE_MOUNT_NS);
      if (oldest === undefined) break;
      this.procfsMounts.delete(oldest);
    }
    while (this.started.size > this.capacity) {
      const oldest = [...this.started].find((k) => k !== TRIPLINE_PID_NS);
      if (oldest === undefined) break;
      this.started.delete(oldest);
    }
  }
}
