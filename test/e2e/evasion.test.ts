// End to end, real strace: second ways into /proc made during the run — a procfs mounted at
// another place, a bind mount, a symlink used only by stat — and access(2) on directories.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  assertCanonicalEvidence, assertDirectories, E2E_SENSOR, IS_ROOT, NET, onlyFingerprint, runCli, runTripline, TEST_TIMEOUT, THREE_DIRS, THREE_FILES, withTempDir,
} from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };
const canUnshare = spawnSync('unshare', ['-rmpf', '--mount-proc', 'true']).status === 0;
const unshareOpts = canUnshare ? opts : { ...opts, skip: 'unprivileged user and mount namespaces are not available' };
const rootOpts = IS_ROOT ? opts : { ...opts, skip: 'bind mounts need root' };
// The eBPF sensor sees that such a stat landed on procfs (st_dev) but resolves the path from
// the host's mount namespace, where a bind mount made inside `unshare -m` does not exist.
const bindStatOpts = E2E_SENSOR === 'ebpf'
  ? { ...opts, skip: 'known limit of the eBPF sensor: stat-only access through a bind mount in another mount namespace' }
  : rootOpts;

void describe('detected: second ways into /proc made during the run', () => {
  void test('procfs mounted at another place inside a user namespace', unshareOpts, () => withTempDir(async (dir) => {
    const mnt = join(dir, 'p');
    const script = `mkdir -p ${mnt} && mount -t proc proc ${mnt} && cat ${THREE_FILES.map((f) => `${mnt}/sys/net/${f}`).join(' ')} >/dev/null`;
    const r = await runTripline(['unshare', '-rmpf', '--mount-proc', 'sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.comm, 'cat');
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  void test('a bind mount of /proc/sys/net walked with stat only', bindStatOpts, () => withTempDir(async (dir) => {
    const mnt = join(dir, 'b');
    const script = `mkdir -p ${mnt} && mount --bind ${NET} ${mnt} && stat ${mnt}/core ${mnt}/ipv4 ${mnt}/unix >/dev/null; umount ${mnt}`;
    const r = await runTripline(['unshare', '-m', 'sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.comm, 'stat');
    assertDirectories(d, THREE_DIRS);
  }));

  void test('a symlink made in the run and used only by stat', opts, () => withTempDir(async (dir) => {
    const link = join(dir, 'n');
    const r = await runTripline(['sh', '-c', `ln -s ../../proc/sys/net ${link} 2>/dev/null || ln -s ${NET} ${link}; stat ${link}/core ${link}/ipv4 ${link}/unix >/dev/null`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.comm, 'stat');
    assertDirectories(d, THREE_DIRS);
  }));

  void test('access(2) on three directories ([ -r dir ] in a shell)', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', THREE_DIRS.map((d) => `[ -r ${d} ]`).join(' && ')], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.comm, 'sh');
    assertDirectories(d, THREE_DIRS);
  }));
});

void describe('commands that cannot run', () => {
  void test('a missing command exits 127 and one that is not executable 126, as a shell would', opts, () => withTempDir(async (dir) => {
    const missing = await runCli(['run', '--', join(dir, 'no-such-program')]);
    assert.equal(missing.exitCode, 127);
    assert.match(missing.stderr, /command not found/);
    const notOnPath = await runCli(['run', '--', 'tripline-no-such-command']);
    assert.equal(notOnPath.exitCode, 127);
    const plain = join(dir, 'plain.txt');
    spawnSync('sh', ['-c', `echo hi > ${plain}; chmod 644 ${plain}`]);
    const notExecutable = await runCli(['run', '--', plain]);
    assert.equal(notExecutable.exitCode, 126);
  }));
});
