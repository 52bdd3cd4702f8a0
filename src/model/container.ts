// The container (and Kubernetes pod) a process runs in, as a detection and the exceptions see
// it: the runtime and id from its cgroup, its namespaces, and what the runtime said about it.

import type { ProcessInfo } from './process-info.ts';

/** Runtimes a cgroup path can name. */
export type ContainerRuntime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'systemd-nspawn' | 'kubernetes';

/** The Kubernetes pod of a container, from the CRI labels io.kubernetes.pod.* the kubelet puts on it. */
export interface PodIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string | null;
  /** The pod's labels where the runtime exposes them (the container's labels other than io.kubernetes.* and annotation.*). */
  readonly labels: Readonly<Record<string, string>>;
}

export interface ContainerIdentity {
  readonly runtime: ContainerRuntime;
  /** 64 hex digits for docker, containerd, cri-o and podman; the machine name for systemd-nspawn. */
  readonly id: string;
  /** Filled in once the runtime answered (asynchronously); null until then, or when it cannot be asked. */
  readonly name: string | null;
  readonly image: string | null;
  /** The image's id as the runtime gives it (sha256:...). */
  readonly imageDigest: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly pod: PodIdentity | null;
  /** Whether the runtime answered (name, image and labels are known) rather than only the cgroup path. */
  readonly resolved: boolean;
}

/** The pid and mount namespace ids of a process (the inode numbers of /proc/PID/ns/pid and ns/mnt). */
export interface ProcessNamespaces {
  readonly pid: number | null;
  readonly mnt: number | null;
}

/**
 * Where each process runs, as known now: a container, null for the host, undefined when not
 * known (never read, or gone before it was read, and no known ancestor either). The same
 * object is returned for a container until more is learned about it, so callers may cache by
 * identity.
 */
export interface ContainerView {
  containerOf(process: Pick<ProcessInfo, 'pid' | 'startMs'>, ancestry: readonly Pick<ProcessInfo, 'pid' | 'startMs'>[]): ContainerIdentity | null | undefined;
}

/** A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(name)) return false;
  return prefix === undefined || (prefix.length <= 253 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(prefix));
}
