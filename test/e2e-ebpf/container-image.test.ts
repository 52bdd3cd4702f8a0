// The container image (deploy/container/Containerfile), built with podman from `npm pack` of
// this checkout on a local Debian bookworm base (no registry here: deploy/container/
// build-local-base.sh makes it once with debootstrap, then it is reused), run as the DaemonSet
// runs it: host pid namespace, a read-only root filesystem, every capability dropped but the
// measured BPF, PERFMON and SYS_PTRACE. Its `watch` must report a `sysctl -a` run on the host as
// a JSON line on the container's stdout. And the reason the manifests ask for an Unconfined
// seccomp profile: under the runtime's default profile the same capabilities cannot load the
// sensor.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cleanEnv, REPO_DIR } from '../e2e/run-tripline.ts';

const PODMAN = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'];
const LIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const BASE = process.env.TRIPLINE_CONTAINER_BASE ?? 'localhost/tripline-base:bookworm';
const IMAGE = 'localhost/tripline:e2e';
const CAPS = ['--cap-drop=ALL', '--cap-add=BPF,PERFMON,SYS_PTRACE'];
/** The DaemonSet's way of running it: host pids, read-only root, the output volume. */
const AS_DAEMONSET = ['--pid=host', '--read-only', '--tmpfs', '/run/tripline', ...CAPS];

function why(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (podman rootful, eBPF)';
  if (spawnSync('podman', ['--version']).status !== 0) return 'podman is not installed (apt-get install -y podman runc)';
  if (!existsSync('/usr/sbin/runc') && !existsSync('/usr/bin/runc')) return 'runc is not installed';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'this kernel has no BTF';
  if (process.arch !== 'x64') return 'the package ships the compiled sensor for x86_64 only';
  return undefined;
}
const skip = why();

function podman(args: readonly string[], timeoutMs: number): { status: number | null; out: string } {
  const r = spawnSync('podman', [...PODMAN, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The base image: kept between runs; made with debootstrap (minutes) only when missing. */
function ensureBase(): void {
  if (podman(['image', 'exists', BASE], 60_000).status === 0) return;
  const r = spawnSync('bash', [join(REPO_DIR, 'deploy/container/build-local-base.sh'), BASE], { encoding: 'utf8', timeout: 1_200_000 });
  assert.equal(r.status, 0, `build-local-base.sh: ${r.stdout}${r.stderr}`);
}

let built = false;
function buildImage(): void {
  if (built) return;
  ensureBase();
  const ctx = mkdtempSync(join(tmpdir(), 'tripline-image-'));
  try {
    // dist/ is built before the tests run (npm test); --ignore-scripts keeps pack from building again.
    spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', ctx], { cwd: REPO_DIR, encoding: 'utf8' });
    mkdirSync(join(ctx, 'deploy/container'), { recursive: true });
    copyFileSync(join(REPO_DIR, 'deploy/container/entrypoint.sh'), join(ctx, 'deploy/container/entrypoint.sh'));
    copyFileSync(join(REPO_DIR, '.containerignore'), join(ctx, '.containerignore'));
    // The build's apt and npm use the host's network, and its CA bundle (a TLS-inspecting proxy).
    const ca = '/etc/ssl/certs/ca-certificates.crt';
    const r = podman(['build', '--network', 'host', ...LIMITS, ...(existsSync(ca) ? ['--secret', `id=npm-ca,src=${ca}`] : []),
      '--build-arg', `BASE=${BASE}`, '-f', join(REPO_DIR, 'deploy/container/Containerfile'), '-t', IMAGE, ctx], 1_500_000);
    assert.equal(r.status, 0, r.out.slice(-4000));
    built = true;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

interface Running {
  readonly stdoutLines: () => string[];
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  readonly waitFor: (ok: () => boolean, what: string, ms: number) => Promise<void>;
}

function runContainer(name: string, args: readonly string[]): Running {
  podman(['rm', '-f', name], 60_000);
  const child = spawn('podman', [...PODMAN, 'run', '--rm', '--name', name, ...LIMITS, ...args, IMAGE], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
  const kill = (): void => { spawnSync('podman', [...PODMAN, 'rm', '-f', name]); };
  process.once('exit', kill);
  setTimeout(kill, 900_000).unref();
  const waitFor = (ok: () => boolean, what: string, ms: number): Promise<void> => new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const check = (): void => {
      if (ok()) resolve();
      else if (Date.now() > deadline || child.exitCode !== null) reject(new Error(`no ${what} within ${String(ms)} ms (exit ${String(child.exitCode)}): ${err.slice(-3000)}`));
      else setTimeout(check, 50);
    };
    check();
  });
  return { stdoutLines: () => out.split('\n').slice(0, -1), stderr: () => err, exited, waitFor };
}

void test('the image builds and its watch puts a host sysctl -a on stdout as a JSON detection (no --privileged)', { skip, timeout: 2_400_000 }, async () => {
  buildImage();
  const c = runContainer('tripline-e2e-watch', [...AS_DAEMONSET, '--security-opt', 'seccomp=unconfined']);
  try {
    await c.waitFor(() => /watching every process/.test(c.stderr()), '"watching every process"', 300_000);
    const sysctl = spawn('/usr/sbin/sysctl', ['-a'], { env: cleanEnv(), stdio: 'ignore' });
    const pid = sysctl.pid;
    assert.equal(await new Promise((resolve) => sysctl.once('exit', resolve)), 0);
    type Subject = { process: { pid: number; exe: string; argv: string[]; cwd: string } };
    const mine = (): { schema: string; subject: Subject } | undefined => c.stdoutLines()
      .map((l) => JSON.parse(l) as { schema: string; subject: Subject })
      .find((d) => d.subject.process.pid === pid);
    await c.waitFor(() => mine() !== undefined, `a detection of sysctl -a (pid ${String(pid)}) on stdout`, 180_000).catch((error: unknown) => {
      const seen = c.stdoutLines().map((l) => { const p = (JSON.parse(l) as { subject: Subject }).subject.process; return `${String(p.pid)} ${p.argv.join(' ')}`; });
      throw new Error(`${(error as Error).message}\nstdout held ${String(seen.length)} detection(s): ${seen.join('; ')}`);
    });
    const d = mine();
    assert.equal(d?.schema, 'tripline.detection/v1');
    assert.deepEqual(d.subject.process.argv, ['/usr/sbin/sysctl', '-a']);
    assert.equal(d.subject.process.exe, '/usr/sbin/sysctl');
    for (const line of c.stdoutLines()) assert.equal((JSON.parse(line) as { schema: string }).schema, 'tripline.detection/v1', 'stdout holds detections only');
  } finally {
    podman(['stop', '-t', '30', 'tripline-e2e-watch'], 120_000);
  }
  assert.equal(await c.exited, 0, `SIGTERM ends watch cleanly: ${c.stderr().slice(-2000)}`);
});

void test('the same capabilities under the default seccomp profile cannot load the sensor (why the manifests say Unconfined)', { skip, timeout: 2_400_000 }, async () => {
  buildImage();
  const c = runContainer('tripline-e2e-seccomp', AS_DAEMONSET);
  const code = await c.exited;
  assert.notEqual(code, 0);
  assert.match(c.stderr(), /the kernel refused the BPF program: Operation not permitted/);
  assert.doesNotMatch(c.stderr(), /watching every process/);
});
