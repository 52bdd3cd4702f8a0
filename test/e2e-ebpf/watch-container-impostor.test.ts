// End to end, the attack an independent review reproduced (issue 12): whoever owns a delegated
// cgroup subtree (systemd gives one to every logged-in user; here a directory of the cgroup2
// mount owned by nobody) makes `libpod-<id of a real, running podman container>` in it, moves a
// process there and runs `sysctl -a`. Before, the runtime name anywhere in the cgroup path was
// taken for that container (its name, image and labels would apply: an exception on its image
// silenced the impostor). Under `tripline watch` the detection must not carry that container:
// a container is recognised only where its runtime puts it, anchored at the cgroup root. The
// cgroups are removed after. Needs root, the eBPF sensor, podman and a cgroup2 mount.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJsonl, withTempDir } from '../e2e/run-tripline.ts';
import { busyboxImage, PODMAN_RUN_OPTIONS, podmanUnavailable } from '../containers/podman.ts';
import { cgroup2Mount } from '../../src/context/cgroup-paths.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, startWatch } from './watch-process.ts';

const IMAGE = 'localhost/tripline-test-busybox:1';
const NOBODY = 65534;
const mount = cgroup2Mount(readFileSync('/proc/self/mountinfo', 'utf8'));
const reason = ebpfUnavailable() ?? podmanUnavailable() ?? (mount === undefined || mount.root !== '/' ? 'no cgroup2 mount of the whole hierarchy' : undefined);

/** Removes a cgroup directory tree, deepest first (rmdir is how cgroups go; they hold no files of their own). */
function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
  rmdirSync(dir);
}

void test('a process in a forged libpod-<id> of a running container, made in a subtree delegated to nobody, is not attributed to that container', { skip: reason ?? false, timeout: 600_000 }, () => withTempDir(async (dir) => {
  if (mount === undefined) return;
  busyboxImage(IMAGE);
  const name = `tripline-impostor-victim-${String(process.pid)}`;
  const created = spawnSync('podman', [...PODMAN_RUN_OPTIONS, 'run', '-d', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--name', name, IMAGE, 'sleep', '600'], { encoding: 'utf8' });
  assert.equal(created.status, 0, created.stderr);
  const victim = created.stdout.trim();
  assert.match(victim, /^[0-9a-f]{64}$/);
  const delegated = join(mount.mountPoint, `tripline-delegated-${String(process.pid)}`);
  const jsonl = join(dir, 'watch.jsonl');
  const watch = startWatch(['--jsonl', jsonl, '--environment', 'production']);
  try {
    await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
    // The delegation, as systemd makes one: a cgroup owned by nobody, its control files too.
    spawnSync('mkdir', [delegated]);
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(join(delegated, f), NOBODY, NOBODY);
    // Root moves the shell into the delegated cgroup; from there on it is nobody's own doing.
    const attack = spawnSync('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && exec setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \'mkdir "$1/libpod-$2" && echo $$ > "$1/libpod-$2/cgroup.procs" && cat /proc/self/cgroup >&2 && exec sysctl -a\' sh "$1" "$2"', 'sh', delegated, victim], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(attack.status, 0, attack.stderr.slice(0, 2000));
    assert.match(attack.stderr, new RegExp(`^0::/tripline-delegated-${String(process.pid)}/libpod-${victim}$`, 'm'), 'the impostor ran in the forged cgroup');
    await watch.waitFor(/os_network_fingerprint .*sysctl -a/, 120_000);
    watch.child.kill('SIGINT');
    assert.equal(await watch.exited, 0, watch.stderr());
    const readers = parseJsonl(readFileSync(jsonl, 'utf8')).filter((d) => d.subject.process.argv.join(' ') === 'sysctl -a' && d.subject.process.uid === NOBODY);
    assert.ok(readers.length > 0, `no detection of nobody's sysctl -a: ${watch.stderr()}`);
    for (const d of readers) {
      for (const p of [d.subject.process, ...d.subject.ancestry]) assert.notEqual(p.container?.id, victim, `${p.comm} (pid ${String(p.pid)}) carries the container it posed as`);
    }
  } finally {
    if (watch.child.exitCode === null) watch.child.kill('SIGKILL');
    spawnSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
    removeCgroup(delegated);
  }
}));
