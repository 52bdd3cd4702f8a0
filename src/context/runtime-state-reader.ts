// What a Kubernetes node's container runtime already wrote to disk about a container, for the
// runtimes without a Docker API: containerd's task bundle (the OCI spec, whose CRI annotations
// name the container, its image and its pod) and cri-o's userdata (the same spec with cri-o's
// annotations, and its pod sandbox's for the pod's labels). No socket, no exec, no gRPC.
//
// The files are root's runtime state, but their contents were chosen by whoever created the pod:
// the container id is checked before it is part of a path, no symbolic link is followed on the
// way, each file is read under the root-only trust rule and the size limit of readDocumentFile,
// and every field is cut to size as the Docker API's answer is. A missing file (a container of
// another runtime, one already removed) is not an error.

import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ContainerRuntime, PodIdentity } from '../model/container.ts';
import { readDocumentFile, type DocumentTrust } from '../documents/document-file.ts';
import { resolveCheckedPath } from '../documents/resolve-checked-path.ts';
import { bounded, boundedLabels, IMAGE_LIMIT, NAME_LIMIT, podFromLabels, record, type ContainerMetadata, type ContainerResolver } from './runtime-client.ts';

const CONTAINER_ID = /^[0-9a-f]{64}$/;
/** A pod's name, namespace and uid: Kubernetes allows 253 characters (a DNS subdomain). */
const POD_FIELD_LIMIT = 253;

/** containerd's CRI plugin's annotations on a container's OCI spec (containerd pkg/cri/annotations, 1.6 and later). */
export const CONTAINERD_CRI = {
  containerType: 'io.kubernetes.cri.container-type',
  containerName: 'io.kubernetes.cri.container-name',
  imageName: 'io.kubernetes.cri.image-name',
  sandboxImageName: 'io.kubernetes.cri.podsandbox.image-name',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
} as const;

/** cri-o's annotations on a container's (and a sandbox's) OCI spec (cri-o internal/annotations). */
export const CRIO = {
  labels: 'io.kubernetes.cri-o.Labels',
  metadata: 'io.kubernetes.cri-o.Metadata',
  imageName: 'io.kubernetes.cri-o.ImageName',
  userRequestedImage: 'io.kubernetes.cri-o.Image',
  imageRef: 'io.kubernetes.cri-o.ImageRef',
  sandboxId: 'io.kubernetes.cri-o.SandboxID',
  containerType: 'io.kubernetes.cri-o.ContainerType',
} as const;

/** The namespace containerd's CRI plugin creates every Kubernetes container in. */
export const CRI_NAMESPACE = 'k8s.io';

/** Where each runtime keeps its state (the files read here are below these). */
export interface RuntimeStateRoots {
  /** containerd's --state directories: the default, and k3s's. */
  readonly containerd: readonly string[];
  /** containers/storage's run root, where cri-o (and podman) keep each container's userdata. */
  readonly containersStorage: readonly string[];
}

export const RUNTIME_STATE_ROOTS: RuntimeStateRoots = {
  containerd: ['/run/containerd', '/run/k3s/containerd'],
  containersStorage: ['/run/containers/storage'],
};

/** containerd's bundle of a task: `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json`. */
export function containerdBundleConfig(state: string, id: string): string {
  return `${state}/io.containerd.runtime.v2.task/${CRI_NAMESPACE}/${id}/config.json`;
}

/** cri-o's copy of a container's spec: `<run root>/overlay-containers/<id>/userdata/config.json`. */
export function crioUserdataConfig(runRoot: string, id: string): string {
  return `${runRoot}/overlay-containers/${id}/userdata/config.json`;
}

function annotationsOf(spec: unknown): Record<string, unknown> | undefined {
  return record(record(spec)?.annotations);
}

function podFields(name: unknown, namespace: unknown, uid: unknown): Omit<PodIdentity, 'labels'> | null {
  const n = bounded(name, POD_FIELD_LIMIT);
  const ns = bounded(namespace, POD_FIELD_LIMIT);
  if (n === null || ns === null) return null;
  return { name: n, namespace: ns, uid: bounded(uid, POD_FIELD_LIMIT) };
}

/**
 * The metadata in a containerd bundle's config.json written by the CRI plugin, or undefined
 * when it carries none of the CRI's annotations (not a Kubernetes container). containerd keeps
 * the container's and the pod's labels in its own database, not in the bundle: `labels` and the
 * pod's `labels` are empty, and so is the image's digest.
 */
export function metadataFromContainerdSpec(spec: unknown): ContainerMetadata | undefined {
  const a = annotationsOf(spec);
  if (a === undefined) return undefined;
  const pod = podFields(a[CONTAINERD_CRI.sandboxName], a[CONTAINERD_CRI.sandboxNamespace], a[CONTAINERD_CRI.sandboxUid]);
  const name = bounded(a[CONTAINERD_CRI.containerName], NAME_LIMIT);
  const image = bounded(a[CONTAINERD_CRI.imageName], IMAGE_LIMIT) ?? bounded(a[CONTAINERD_CRI.sandboxImageName], IMAGE_LIMIT);
  if (pod === null && name === null && image === null) return undefined;
  return { name, image, imageDigest: null, labels: {}, pod: pod === null ? null : { ...pod, labels: {} } };
}

/** A JSON object carried as a string in an annotation (cri-o's Labels and Metadata), or undefined. */
function jsonAnnotation(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return record(JSON.parse(value));
  } catch {
    return undefined;
  }
}

/** The id of the pod sandbox a cri-o container belongs to, when it is a container id. */
export function crioSandboxId(spec: unknown): string | undefined {
  const id = annotationsOf(spec)?.[CRIO.sandboxId];
  return typeof id === 'string' && CONTAINER_ID.test(id) ? id : undefined;
}

/**
 * The metadata in a cri-o container's userdata config.json, or undefined when it has none of
 * cri-o's annotations. The container's labels are the kubelet's (io.kubernetes.pod.name,
 * .namespace, .uid, io.kubernetes.container.name); the pod's own labels are on its sandbox's
 * spec (`sandboxSpec`, read by the caller), which is where cri-o keeps the PodSandboxConfig's.
 */
export function metadataFromCrioSpec(spec: unknown, sandboxSpec?: unknown): ContainerMetadata | undefined {
  const a = annotationsOf(spec);
  if (a === undefined) return undefined;
  const rawLabels = jsonAnnotation(a[CRIO.labels]);
  if (rawLabels === undefined && a[CRIO.imageName] === undefined && a[CRIO.metadata] === undefined) return undefined;
  const labels = boundedLabels(rawLabels);
  const fromLabels = podFromLabels(labels);
  const pod = fromLabels === null ? null : podFields(fromLabels.name, fromLabels.namespace, fromLabels.uid);
  const sandboxLabels = boundedLabels(jsonAnnotation(annotationsOf(sandboxSpec)?.[CRIO.labels]));
  const podLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(sandboxLabels)) if (!k.startsWith('io.kubernetes.')) podLabels[k] = v;
  return {
    name: bounded(labels['io.kubernetes.container.name'], NAME_LIMIT) ?? bounded(jsonAnnotation(a[CRIO.metadata])?.name, NAME_LIMIT),
    image: bounded(a[CRIO.imageName], IMAGE_LIMIT) ?? bounded(a[CRIO.userRequestedImage], IMAGE_LIMIT),
    imageDigest: bounded(a[CRIO.imageRef], IMAGE_LIMIT),
    labels,
    pod: pod === null ? null : { ...pod, labels: podLabels },
  };
}

/** Thrown by the walk: a link on the way, which is never followed. */
class LinkOnPath extends Error {}

/** Why a state file was not used, when it was there (a missing one says nothing). */
export type StateRead = { readonly json: unknown } | { readonly missing: true } | { readonly refused: string };

/**
 * Reads one runtime state file as JSON: no symbolic link anywhere on its path, every entry
 * owned by an owner `trust` names and not writable by others, a regular file of at most 1 MiB.
 */
export function readStateFile(path: string, trust: DocumentTrust): StateRead {
  try {
    resolveCheckedPath(path, (step) => { if (step.st.isSymbolicLink()) throw new LinkOnPath(`${step.path} is a symbolic link`); });
  } catch (error) {
    if (error instanceof LinkOnPath) return { refused: error.message };
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { missing: true };
    return { refused: (error as Error).message };
  }
  const read = readDocumentFile(path, trust);
  // Removed between the walk and the open: the container is gone.
  if ('error' in read) return read.error.startsWith('ENOENT') ? { missing: true } : { refused: read.error };
  try {
    return { json: JSON.parse(read.text) };
  } catch (error) {
    return { refused: `not JSON: ${(error as Error).message}` };
  }
}

export interface RuntimeStateResolverOptions {
  readonly roots?: RuntimeStateRoots;
  /** Who may own the files and the directories above them (default: root alone). */
  readonly trust?: DocumentTrust;
  /** Told once per runtime when a file that is there could not be used (the reason names it). */
  readonly warn?: (message: string) => void;
}

type StateRuntime = 'containerd' | 'cri-o';

/** Which runtimes' state may describe a container the cgroup path names. */
const STATE_RUNTIMES: Readonly<Record<ContainerRuntime, readonly StateRuntime[]>> = {
  containerd: ['containerd'],
  'cri-o': ['cri-o'],
  // A bare id under kubepods (the kubelet's cgroupfs driver): either runtime.
  kubernetes: ['containerd', 'cri-o'],
  docker: [],
  podman: [],
  'systemd-nspawn': [],
};

/**
 * Answers from the runtime's state files (containerd's CRI bundles, cri-o's userdata). The
 * reads happen on a later turn of the event loop than the question: a few lstat calls and one
 * small read per container, once per container (the tracker caches the answer).
 */
export class RuntimeStateResolver implements ContainerResolver {
  private readonly roots: RuntimeStateRoots;
  private readonly trust: DocumentTrust;
  private readonly warned = new Set<StateRuntime>();

  constructor(private readonly options: RuntimeStateResolverOptions = {}) {
    this.roots = options.roots ?? RUNTIME_STATE_ROOTS;
    this.trust = options.trust ?? { owners: [0] };
  }

  async resolve(runtime: ContainerRuntime, id: string): Promise<ContainerMetadata | undefined> {
    if (!CONTAINER_ID.test(id)) return undefined;
    const kinds = STATE_RUNTIMES[runtime];
    if (kinds.length === 0) return undefined;
    // Never on the caller's turn: the tracker asks from the event path.
    await nextTurn();
    for (const kind of kinds) {
      const found = kind === 'containerd' ? this.fromContainerd(id) : this.fromCrio(id);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private read(kind: StateRuntime, path: string): unknown {
    const read = readStateFile(path, this.trust);
    if ('json' in read) return read.json;
    if ('refused' in read && !this.warned.has(kind)) {
      this.warned.add(kind);
      this.options.warn?.(`${kind}'s state file ${path} was not read: ${read.refused}; containers described there have their cgroup's id only`);
    }
    return undefined;
  }

  private fromContainerd(id: string): ContainerMetadata | undefined {
    for (const state of this.roots.containerd) {
      const spec = this.read('containerd', containerdBundleConfig(state, id));
      if (spec === undefined) continue;
      const metadata = metadataFromContainerdSpec(spec);
      if (metadata !== undefined) return metadata;
    }
    return undefined;
  }

  private fromCrio(id: string): ContainerMetadata | undefined {
    for (const root of this.roots.containersStorage) {
      const spec = this.read('cri-o', crioUserdataConfig(root, id));
      if (spec === undefined) continue;
      const sandbox = crioSandboxId(spec);
      // A sandbox's own spec carries the pod's labels.
      const sandboxSpec = sandbox === undefined ? undefined : sandbox === id ? spec : this.read('cri-o', crioUserdataConfig(root, sandbox));
      const metadata = metadataFromCrioSpec(spec, sandboxSpec);
      if (metadata !== undefined) return metadata;
    }
    return undefined;
  }
}
