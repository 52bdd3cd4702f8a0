// A process's cgroup as the kernel gave it: the eBPF sensors read it when a process execs or
// forks (before /proc can lose it), the container tracker maps it to a container.

/** One reading; times in Unix ms. */
export interface KernelCgroup {
  readonly pid: number;
  /** The process's start (EXEC), or its fork's time (FORK). */
  readonly startMs: number;
  /** When the kernel read it. */
  readonly atMs: number;
  /** The cgroup v2 id: the inode of the cgroup's directory on the cgroup2 mount. */
  readonly id: bigint;
  /** An EXEC's (else a FORK's). */
  readonly exec: boolean;
  /** The directory's name and its parent's, where the sensor read them in the kernel (EXEC of the compiled sensor). */
  readonly leaf?: string;
  readonly parent?: string;
  /** The cgroup's depth (the root is 0) and its depth-1 directory's name (empty deeper than 4): they anchor the names. */
  readonly level?: number;
  readonly top?: string;
}
