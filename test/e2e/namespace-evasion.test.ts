// End to end: resolution a user-space sensor has to redo for paths that depend on namespaces and
// mounts: /proc/<N>/cwd spelled with a pid of a new pid namespace, a procfs moved with
// `mount --move` (and bound again) in a private mount namespace, and detached mounts
// (open_tree, fsopen/fsmount) whose files the kernel names from the detached root. Each runs
// under the sensor under test (TRIPLINE_E2E_SENSOR); a case a sensor cannot see is skipped with
// the reason (docs/sensors.md).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { probeStrace } from '../../src/sensors/strace/strace-sensor.ts';
import { assertCanonicalEvidence, assertDirectories, E2E_SENSOR, NET, onlyFingerprint, PYTHON, cleanEnv, runTripline, TEST_TIMEOUT, THREE_DIRS, withTempDir } from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };
const AREAS = THREE_DIRS.map((d) => d.slice(NET.length + 1));
const canUnshare = (args: readonly string[]) => spawnSync('unshare', [...args, 'true']).status === 0;
const EBPF = E2E_SENSOR === 'ebpf';
/** Whether this machine's strace gives pids in Tripline's namespace too (--pidns-translation, strace 5.9+): fork in another namespace returns that namespace's number. */
const TRANSLATES_PIDS = ((): boolean => {
  try {
    return probeStrace(cleanEnv()).pidnsTranslation === true;
  } catch {
    return false;
  }
})();

function skipUnless(ok: boolean, reason: string): { timeout: number; skip?: string } {
  return ok ? opts : { ...opts, skip: reason };
}

void describe('detected: /proc/<pid> spelled with a pid of a new pid namespace', () => {
  const pidNs = canUnshare(['--pid', '--fork', '--mount-proc']);
  // The namespace's procfs has its own device number: a stat there matches neither procfs's st_dev nor a /proc/sys/net spelling.
  const ebpfMiss = 'known limit of the eBPF sensors: stat-only walk of a procfs with another device number (docs/sensors.md)';

  void test('its init stats /proc/1/cwd/../sys/net/* (pid 1 there is not Tripline\'s pid 1)', EBPF ? { ...opts, skip: ebpfMiss } : skipUnless(pidNs && PYTHON !== undefined, 'pid namespaces or python3 not available'), () => withTempDir(async (dir) => {
    const code = `import os\nos.chdir('/proc/fs')\nfor d in ${JSON.stringify(AREAS)}:\n    os.stat('/proc/1/cwd/../sys/net/' + d)\n`;
    const r = await runTripline(['unshare', '--pid', '--fork', '--mount-proc', PYTHON ?? 'python3', '-c', code], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  // A child forked inside the namespace: fork returns its number there, and strace prints that
  // number unless told to translate it (--pidns-translation, strace 5.9+).
  const translated = TRANSLATES_PIDS ? opts : { ...opts, skip: 'this strace has no --pidns-translation (strace 5.9+): fork inside a pid namespace returns that namespace\'s pid, so the child is not known (docs/sensors.md)' };
  void test('a child there stats its parent\'s /proc/1/cwd and its own /proc/$$/cwd', EBPF ? { ...opts, skip: ebpfMiss } : pidNs ? translated : { ...opts, skip: 'pid namespaces not available' }, () => withTempDir(async (dir) => {
    const [a, b, c] = AREAS;
    const inner = `cd /proc/sys/kernel && stat /proc/$$/cwd/../net/${String(b)} /proc/1/cwd/../sys/net/${String(c)} >/dev/null`;
    const script = `cd /proc/fs && sh -c 'stat /proc/1/cwd/../sys/net/${String(a)} >/dev/null && ${inner}'`;
    const r = await runTripline(['unshare', '--pid', '--fork', '--mount-proc', 'sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));
});

void describe('detected: a procfs moved or bound elsewhere in a private mount namespace', () => {
  const mountNs = canUnshare(['--mount']);
  const ebpfMiss = 'known limit of the eBPF sensors: stat-only walk of a freshly mounted procfs, whose device number differs (docs/sensors.md)';
  const caseOpts = EBPF ? { ...opts, skip: ebpfMiss } : skipUnless(mountNs, 'mount namespaces not available');

  void test('mount -t proc, then mount --move: stats through the new place', caseOpts, () => withTempDir(async (dir) => {
    const stats = AREAS.map((a) => `q/sys/net/${a}`).join(' ');
    const script = `mkdir p q && mount -t proc proc p && mount --move p q && stat ${stats} >/dev/null`;
    const r = await runTripline(['unshare', '--mount', 'sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  void test('a moved procfs bound again elsewhere, the moved one unmounted', caseOpts, () => withTempDir(async (dir) => {
    const stats = AREAS.map((a) => `r/sys/net/${a}`).join(' ');
    const script = `mkdir p q r && mount -t proc proc p && mount --move p q && mount --bind q r && umount q && stat ${stats} >/dev/null`;
    const r = await runTripline(['unshare', '--mount', 'sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));
});

/** A python program that makes a detached mount of procfs and opens and stats each area relative to it. */
function detachedProgram(dir: string, how: 'open_tree' | 'fsmount'): string {
  // x86_64 numbers: open_tree 428, fsopen 430, fsconfig 431, fsmount 432.
  const make = how === 'open_tree'
    ? 'fd = libc.syscall(428, -100, b"/proc", 1 | 0o2000000)  # OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC'
    : 'ctx = libc.syscall(430, b"proc", 0)\nassert ctx >= 0, ctypes.get_errno()\nassert libc.syscall(431, ctx, 6, None, None, 0) == 0  # FSCONFIG_CMD_CREATE\nfd = libc.syscall(432, ctx, 0, 0)';
  const code = [
    'import ctypes, os',
    'libc = ctypes.CDLL(None, use_errno=True)',
    make,
    'assert fd >= 0, ctypes.get_errno()',
    `for d in ${JSON.stringify(AREAS)}:`,
    '    os.stat("sys/net/" + d, dir_fd=fd)',
    '    os.close(os.open("sys/net/" + d, os.O_RDONLY, dir_fd=fd))',
    '',
  ].join('\n');
  const path = join(dir, `${how}.py`);
  writeFileSync(path, code);
  return path;
}

void describe('detected: files under a detached mount (named by the kernel from the detached root)', () => {
  const x64 = process.arch === 'x64';
  const haveRoot = process.getuid?.() === 0;
  for (const how of ['open_tree', 'fsmount'] as const) {
    void test(`${how}: stat and open sys/net/* relative to the detached procfs`, skipUnless(x64 && haveRoot && PYTHON !== undefined, 'needs x86_64 (syscall numbers), root and python3'), () => withTempDir(async (dir) => {
      const r = await runTripline([PYTHON ?? 'python3', detachedProgram(dir, how)], { dir });
      assert.equal(r.exitCode, 0, r.stderr);
      const d = onlyFingerprint(r);
      assertDirectories(d, THREE_DIRS);
      assertCanonicalEvidence(d);
    }));
  }
});
