// Asks a container runtime what it knows about a container (name, image, labels), through the
// Docker Engine API on a unix socket: Docker's own (/run/docker.sock) or podman's compatible
// service (/run/podman/podman.sock). One GET /containers/<id>/json, a short timeout, a bounded
// answer. Everything in the answer was chosen by whoever started the container: it is cut to
// size here and escaped by every output.

import { lstatSync } from 'node:fs';
import { request } from 'node:http';
import type { ContainerRuntime, PodIdentity } from '../model/container.ts';

/** What a runtime says about one container. */
export interface ContainerMetadata {
  readonly name: string | null;
  readonly image: string | null;
  readonly imageDigest: string | null;
  readonly labels: Readonly<Record<string, string>>;
  readonly pod: PodIdentity | null;
}

export interface ContainerResolver {
  /** What the runtime knows of the container, or undefined when no runtime could be asked or it did not answer in time. Never rejects. */
  resolve(runtime: ContainerRuntime, id: string): Promise<ContainerMetadata | undefined>;
}

/** The sockets asked, per runtime, in order (podman's service answers the Docker API too). */
export const RUNTIME_SOCKETS: Readonly<Record<ContainerRuntime, readonly string[]>> = {
  docker: ['/run/docker.sock'],
  podman: ['/run/podman/podman.sock', '/run/docker.sock'],
  kubernetes: ['/run/docker.sock'],
  containerd: [],
  'cri-o': [],
  'systemd-nspawn': [],
};

/** The longest answer read; an inspect of a container is a few KiB. */
const RESPONSE_LIMIT = 1024 * 1024;
export const NAME_LIMIT = 256;
export const IMAGE_LIMIT = 512;
const LABEL_LIMIT = 64;
const LABEL_KEY_LIMIT = 253;
const LABEL_VALUE_LIMIT = 1024;
const CONTAINER_ID = /^[0-9a-f]{64}$/;

/** A string cut to `limit` characters (an ellipsis marks the cut), or null when it is not a non-empty string. */
export function bounded(value: unknown, limit: number): string | null {
  if (typeof value !== 'string' || value === '') return null;
  return value.length <= limit ? value : `${value.slice(0, limit - 1)}…`;
}

export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** At most LABEL_LIMIT labels, keys and values cut to size, in key order; a key cut to size is dropped (it would not be that key). */
export function boundedLabels(value: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  const raw = record(value);
  if (raw === undefined) return labels;
  const keys = Object.keys(raw).filter((k) => k.length <= LABEL_KEY_LIMIT && typeof raw[k] === 'string').sort();
  for (const key of keys.slice(0, LABEL_LIMIT)) labels[key] = bounded(raw[key], LABEL_VALUE_LIMIT) ?? '';
  return labels;
}

/**
 * The pod of a container from its CRI labels (io.kubernetes.pod.name and .namespace, .uid when
 * given); its labels are the container's other labels, which is where runtimes that show the
 * pod's labels put them (cri-dockerd's sandbox, a stand-in labelled by hand).
 */
export function podFromLabels(labels: Readonly<Record<string, string>>): PodIdentity | null {
  const name = labels['io.kubernetes.pod.name'];
  const namespace = labels['io.kubernetes.pod.namespace'];
  if (name === undefined || name === '' || namespace === undefined || namespace === '') return null;
  const podLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (!k.startsWith('io.kubernetes.') && !k.startsWith('annotation.')) podLabels[k] = v;
  const uid = labels['io.kubernetes.pod.uid'];
  return { name, namespace, uid: uid === undefined || uid === '' ? null : uid, labels: podLabels };
}

/** The metadata in a Docker Engine API `GET /containers/<id>/json` answer (Docker or podman), or undefined when it is not one. */
export function metadataFromInspect(body: unknown): ContainerMetadata | undefined {
  const top = record(body);
  if (top === undefined) return undefined;
  const config = record(top.Config);
  const labels = boundedLabels(config?.Labels);
  const rawName = typeof top.Name === 'string' ? top.Name.replace(/^\//, '') : undefined;
  return {
    name: bounded(rawName, NAME_LIMIT),
    image: bounded(config?.Image, IMAGE_LIMIT) ?? bounded(top.ImageName, IMAGE_LIMIT),
    imageDigest: bounded(top.Image, IMAGE_LIMIT),
    labels,
    pod: podFromLabels(labels),
  };
}

/** A socket Tripline (root) may talk to: a socket, not a link, owned by root or by Tripline's own user. */
function trustedSocket(path: string): boolean {
  try {
    const st = lstatSync(path);
    const uid = process.getuid?.() ?? 0;
    return st.isSocket() && (st.uid === 0 || st.uid === uid);
  } catch {
    return false;
  }
}

function getJson(socketPath: string, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (value: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(value);
    };
    const req = request({ socketPath, path, method: 'GET', headers: { host: 'localhost' } }, (res) => {
      const chunks: Buffer[] = [];
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > RESPONSE_LIMIT) {
          req.destroy();
          finish(undefined);
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          finish(undefined);
          return;
        }
        try {
          finish(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          finish(undefined);
        }
      });
      res.on('error', () => { finish(undefined); });
    });
    // A runtime that does not answer in time is not waited for: the cgroup's id stands.
    const timer = setTimeout(() => {
      req.destroy();
      finish(undefined);
    }, timeoutMs);
    timer.unref();
    req.on('error', () => { finish(undefined); });
    req.end();
  });
}

export interface DockerApiResolverOptions {
  /** Sockets per runtime (default RUNTIME_SOCKETS). */
  readonly sockets?: Readonly<Record<ContainerRuntime, readonly string[]>>;
  /** How long one answer is waited for (default 2 s). */
  readonly timeoutMs?: number;
}

/** Asks the Docker Engine API (Docker, or podman's compatible service) of each runtime's sockets in turn. */
export class DockerApiResolver implements ContainerResolver {
  private readonly sockets: Readonly<Record<ContainerRuntime, readonly string[]>>;
  private readonly timeoutMs: number;

  constructor(options: DockerApiResolverOptions = {}) {
    this.sockets = options.sockets ?? RUNTIME_SOCKETS;
    this.timeoutMs = options.timeoutMs ?? 2_000;
  }

  async resolve(runtime: ContainerRuntime, id: string): Promise<ContainerMetadata | undefined> {
    if (!CONTAINER_ID.test(id)) return undefined;
    for (const socket of this.sockets[runtime]) {
      if (!trustedSocket(socket)) continue;
      const metadata = metadataFromInspect(await getJson(socket, `/containers/${id}/json`, this.timeoutMs));
      if (metadata !== undefined) return metadata;
    }
    return undefined;
  }
}

/** Asks each resolver in turn; the first that knows the container answers. */
export class ResolverChain implements ContainerResolver {
  constructor(private readonly resolvers: readonly ContainerResolver[]) {}

  async resolve(runtime: ContainerRuntime, id: string): Promise<ContainerMetadata | undefined> {
    for (const resolver of this.resolvers) {
      const metadata = await resolver.resolve(runtime, id).catch(() => undefined);
      if (metadata !== undefined) return metadata;
    }
    return undefined;
  }
}
