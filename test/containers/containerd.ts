// A real containerd for the tests (Debian's 1.6), touching nothing of the machine's: it runs in a
// mount namespace of its own where /run is a fresh tmpfs (so its state, /run/containerd, is where
// a node has it, and vanishes with the namespace), with its root and its socket in a temp
// directory. Whatever must see that state (ctr, `tripline watch`) is run in the same namespace.
// Containers are started in namespace k8s.io under a kubelet-style cgroup
// (/kubepods/besteffort/pod<uid>/<id>, the cgroupfs driver) with the annotations containerd's CRI
// plugin puts on a Kubernetes container: what a node's containerd writes, without a kubelet.
//
// API (other test files import it):
//   containerdUnavailable()          why it cannot run here, or undefined
//   startContainerd(dir)             starts it; resolves once it answers
//   Containerd.inNamespace(argv)     argv prefixed to run in its mount namespace
//   Containerd.importImage(archive)  `ctr images import` of an OCI archive into k8s.io
//   Containerd.runPodContainer(o)    runs a container with CRI annotations to its end (or argv, then o.then with exec)
//   Containerd.stop()                stops it and removes the cgroups its containers left

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

const CONTAINERD = '/usr/bin/containerd';
const CTR = '/usr/bin/ctr';

/** Undefined when containerd can run here, else why not (tests are then skipped with it). */
export function containerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'running containerd needs root';
  if (!existsSync(CONTAINERD) || !existsSync(CTR)) return 'containerd is not installed (apt-get install -y containerd)';
  for (const tool of ['unshare', 'nsenter']) if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed (util-linux)`;
  return undefined;
}

export interface PodContainer {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly pod: { readonly name: string; readonly namespace: string; readonly uid: string };
  readonly status: number | null;
  readonly stderr: string;
}

export interface PodContainerOptions {
  readonly image: string;
  readonly argv: readonly string[];
  readonly name: string;
  readonly pod: { readonly name: string; readonly namespace: string };
  /**
   * Run in two steps: the container starts with `argv` and waits (detached), then `then` is run
   * in it with `ctr task exec`, and the container is removed; default: none.
   */
  readonly then?: readonly string[];
}

export interface Containerd {
  readonly pid: number;
  readonly socket: string;
  inNamespace(argv: readonly string[]): string[];
  importImage(archive: string): void;
  runPodContainer(options: PodContainerOptions): PodContainer;
  stop(): Promise<void>;
}

/** The kubelet's cgroupfs layout for a BestEffort pod's container. */
function podCgroup(uid: string, id: string): string {
  return `/kubepods/besteffort/pod${uid}/${id}`;
}

/** Removes the pod cgroups (and kubepods/besteffort when nothing else is left in them) from every hierarchy. */
function removeCgroups(uids: readonly string[]): void {
  let hierarchies: string[];
  try {
    hierarchies = readdirSync('/sys/fs/cgroup', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join('/sys/fs/cgroup', d.name));
  } catch {
    return;
  }
  // cgroup v2 alone: the mount itself is the hierarchy.
  hierarchies.push('/sys/fs/cgroup');
  for (const h of hierarchies) {
    for (const uid of uids) {
      try { rmdirSync(join(h, 'kubepods', 'besteffort', `pod${uid}`)); } catch { /* not there, or in use */ }
    }
    for (const d of ['kubepods/besteffort', 'kubepods']) {
      try { rmdirSync(join(h, d)); } catch { /* not there, or another pod in it */ }
    }
  }
}

function ctrCheck(r: SpawnSyncReturns<string>, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (${String(r.status)}): ${r.stderr}`);
}

/** Starts containerd in its own mount namespace (root and socket under `dir`); resolves once `ctr version` answers. */
export async function startContainerd(dir: string): Promise<Containerd> {
  const socket = join(dir, 'containerd.sock');
  const script = 'mount -t tmpfs -o mode=0755 tripline-test-run /run && mkdir -m 0711 /run/containerd && exec "$0" --root "$1" --state /run/containerd --address "$2"';
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, CONTAINERD, join(dir, 'root'), socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => { log = (log + chunk.toString('utf8')).slice(-20_000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  const kill = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', kill);
  const pid = child.pid;
  if (pid === undefined) throw new Error('containerd did not start');
  const inNamespace = (argv: readonly string[]): string[] => ['nsenter', `--mount=/proc/${String(pid)}/ns/mnt`, `--wd=${dir}`, '--', ...argv];
  const ctr = (args: readonly string[]): SpawnSyncReturns<string> => {
    const [cmd, ...rest] = inNamespace([CTR, '--address', socket, '--namespace', 'k8s.io', ...args]);
    return spawnSync(cmd ?? 'nsenter', rest, { encoding: 'utf8', timeout: 120_000 });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      kill();
      throw new Error(`containerd did not answer on ${socket}: ${log}`);
    }
    if (existsSync(socket) && ctr(['version']).status === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const uids: string[] = [];
  return {
    pid,
    socket,
    inNamespace,
    importImage(archive) {
      ctrCheck(ctr(['images', 'import', archive]), 'ctr images import');
    },
    runPodContainer(o) {
      const id = randomBytes(32).toString('hex');
      const uid = randomUUID();
      uids.push(uid);
      // The annotations containerd's CRI plugin sets on a container (pkg/cri/annotations, 1.6).
      const annotations = {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.container-name': o.name,
        'io.kubernetes.cri.image-name': o.image,
        'io.kubernetes.cri.sandbox-id': randomBytes(32).toString('hex'),
        'io.kubernetes.cri.sandbox-name': o.pod.name,
        'io.kubernetes.cri.sandbox-namespace': o.pod.namespace,
        'io.kubernetes.cri.sandbox-uid': uid,
      };
      const flags = ['--null-io', '--cgroup', podCgroup(uid, id), ...Object.entries(annotations).flatMap(([k, v]) => ['--annotation', `${k}=${v}`])];
      const done = (r: SpawnSyncReturns<string>): PodContainer => ({ id, name: o.name, image: o.image, pod: { ...o.pod, uid }, status: r.status, stderr: r.stderr });
      if (o.then === undefined) return done(ctr(['run', '--rm', ...flags, o.image, id, ...o.argv]));
      ctrCheck(ctr(['run', '--detach', ...flags, o.image, id, ...o.argv]), 'ctr run --detach');
      try {
        return done(ctr(['task', 'exec', '--exec-id', 'then', id, ...o.then]));
      } finally {
        ctr(['task', 'kill', '--signal', 'SIGKILL', id]);
        ctr(['task', 'delete', '--force', id]);
        ctr(['containers', 'delete', id]);
      }
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      removeCgroups(uids);
    },
  };
}
