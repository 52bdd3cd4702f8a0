// Real containers for the tests, with podman and runc (Debian's, measured on hybrid cgroups):
// a static busybox image made from a local root filesystem (no registry needed), containers run
// with the options that work here, and podman's Docker-compatible API socket started and stopped.
//
// API (small on purpose; other test files import it):
//   podmanUnavailable()            why containers cannot run here, or undefined
//   busyboxImage(name)             imports (once) a busybox image named `name` (localhost/x:1), returns it
//   runContainer(image, argv, o)   runs a container to its end (or argv, then o.then with exec); returns its full id and name
//   startPodmanService(socket)     serves the Docker API on a unix socket until stop() (for a runtime look-up)

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, copyFileSync, chmodSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What every `podman run` here needs: runc (crun refuses hybrid cgroups), cgroupfs, ulimits the host allows. */
export const PODMAN_RUN_OPTIONS = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'] as const;
const RUN_LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'] as const;
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'sysctl', 'cat', 'ls', 'sleep', 'true'];

/** Undefined when podman can run containers here, else why not (tests are then skipped with it). */
export function podmanUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'running containers with podman here needs root';
  if (spawnSync('podman', ['--version'], { stdio: 'ignore' }).status !== 0) return 'podman is not installed (apt-get install -y podman runc)';
  if (spawnSync('runc', ['--version'], { stdio: 'ignore' }).status !== 0) return 'runc is not installed (apt-get install -y runc)';
  const file = spawnSync('file', ['-L', BUSYBOX], { encoding: 'utf8' });
  if (!existsSync(BUSYBOX) || (file.status === 0 && !/statically linked/.test(file.stdout))) return `${BUSYBOX} is not a static busybox (apt-get install -y busybox-static)`;
  return undefined;
}

/** A busybox image from a local root filesystem, imported under `name` unless podman has it already. */
export function busyboxImage(name: string): string {
  if (spawnSync('podman', ['image', 'exists', name]).status === 0) return name;
  const dir = mkdtempSync(join(tmpdir(), 'tripline-rootfs-'));
  try {
    const root = join(dir, 'rootfs');
    for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    chmodSync(join(root, 'bin', 'busybox'), 0o755);
    for (const applet of APPLETS) symlinkSync('busybox', join(root, 'bin', applet));
    const tar = join(dir, 'rootfs.tar');
    check(spawnSync('tar', ['-C', root, '-cf', tar, '.'], { encoding: 'utf8' }), 'tar');
    check(spawnSync('podman', ['import', tar, name], { encoding: 'utf8' }), 'podman import');
    return name;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function check(r: ReturnType<typeof spawnSync>, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (${String(r.status)}): ${String(r.stderr)}`);
}

export interface RunOptions {
  /** --name; a unique one is made when absent. */
  readonly name?: string;
  /** --label KEY=VALUE each. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Run in two steps: the container starts with `argv` and waits, then `then` is run in it with
   * `podman exec` (the container is already known to the runtime's API by then); default: none.
   */
  readonly then?: readonly string[];
  /** --publish HOST:CONTAINER each (netavark sets up port forwarding: the noisiest plumbing). */
  readonly publish?: readonly string[];
}

/** Runs `argv` in a new container of `image` until it ends (the container is removed after); its id, name, and the last start's status and stderr. */
export function runContainer(image: string, argv: readonly string[], options: RunOptions = {}): { id: string; name: string; status: number | null; stderr: string } {
  const name = options.name ?? `tripline-test-${String(process.pid)}-${String(Date.now())}-${String(Math.floor(Math.random() * 1e6))}`;
  const labels = Object.entries(options.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  const publish = (options.publish ?? []).flatMap((p) => ['--publish', p]);
  check(spawnSync('podman', [...PODMAN_RUN_OPTIONS, 'create', ...RUN_LIMITS, '--name', name, ...labels, ...publish, image, ...argv], { encoding: 'utf8' }), 'podman create');
  const id = spawnSync('podman', ['inspect', '--format', '{{.Id}}', name], { encoding: 'utf8' }).stdout.trim();
  let started: SpawnSyncReturns<string>;
  if (options.then === undefined) started = spawnSync('podman', [...PODMAN_RUN_OPTIONS, 'start', '--attach', name], { encoding: 'utf8' });
  else {
    check(spawnSync('podman', [...PODMAN_RUN_OPTIONS, 'start', name], { encoding: 'utf8' }), 'podman start');
    started = spawnSync('podman', [...PODMAN_RUN_OPTIONS, 'exec', name, ...options.then], { encoding: 'utf8' });
  }
  spawnSync('podman', ['rm', '-f', name], { stdio: 'ignore' });
  return { id, name, status: started.status, stderr: started.stderr };
}

/** Whether the Docker API on `socket` answers GET /_ping with OK. */
function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', headers: { host: 'localhost' }, timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString('utf8'); });
      res.on('end', () => { resolve(res.statusCode === 200 && body.trim() === 'OK'); });
    });
    req.on('error', () => { resolve(false); });
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

export interface PodmanService {
  readonly socket: string;
  stop(): Promise<void>;
}

/** Starts `podman system service` on a unix socket and resolves once it answers /_ping. */
export async function startPodmanService(socket = '/run/podman/podman.sock'): Promise<PodmanService> {
  mkdirSync(join(socket, '..'), { recursive: true });
  const child = spawn('podman', [...PODMAN_RUN_OPTIONS, 'system', 'service', '--time=0', `unix://${socket}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  const kill = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); };
  process.once('exit', kill);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await ping(socket)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      kill();
      throw new Error(`podman system service did not answer on ${socket}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    socket,
    stop: async () => {
      kill();
      await exited;
      rmSync(socket, { force: true });
    },
  };
}
