// End to end: ways to reach /proc/sys/net that a syscall tracer of the 64-bit table, reading
// paths from user memory, does not see: the 32-bit gate (int 0x80) of a 64-bit process,
// io_uring (no open or stat system call at all), statfs (an area probed without a stat), and
// paths longer than a fixed-size string buffer. Each is traced under the sensor under test
// (TRIPLINE_E2E_SENSOR); what a sensor cannot see by design is skipped with the reason.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  assertCanonicalEvidence, assertDirectories, E2E_SENSOR, EBPF_BPFTRACE, NET, onlyFingerprint, runTripline, TEST_TIMEOUT, THREE_DIRS, THREE_FILES, withTempDir,
} from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };
const PROGRAMS = fileURLToPath(new URL('./programs/', import.meta.url));
const FILES = THREE_FILES.map((f) => `${NET}/${f}`);
const haveCompiler = spawnSync('cc', ['--version']).status === 0;
const compilerOpts = haveCompiler ? opts : { ...opts, skip: 'no C compiler (cc) to build the test program' };
/** bpftrace's program traces the syscalls:sys_* tracepoints of the 64-bit table only (test/e2e-bpftrace pins it). */
const BPFTRACE = EBPF_BPFTRACE;

/** Builds test/e2e/programs/NAME.c into DIR/NAME. */
function build(dir: string, name: string, flags: readonly string[] = []): string {
  const out = join(dir, name);
  const r = spawnSync('cc', ['-O1', ...flags, '-o', out, join(PROGRAMS, `${name}.c`)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

void describe('detected: system call paths a 64-bit syscall tracer misses', () => {
  const int80Opts = BPFTRACE ? { ...opts, skip: 'known limit of the bpftrace program: the 32-bit table has no syscalls:sys_* tracepoints' } : compilerOpts;
  void test('opens through the 32-bit gate (int 0x80) of a 64-bit process', int80Opts, () => withTempDir(async (dir) => {
    const program = build(dir, 'int80-open', ['-no-pie']);
    const r = await runTripline([program, ...FILES], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  // strace sees io_uring_enter, never the paths the ring carries: a known limit of ptrace.
  const uringOpts = E2E_SENSOR === 'ptrace' ? { ...opts, skip: 'known limit of the ptrace sensor: io_uring requests carry their paths outside any system call' }
    : BPFTRACE ? { ...opts, skip: 'known limit of the bpftrace program: it traces system calls, not io_uring requests' } : compilerOpts;
  void test('opens and statx through io_uring, with no open or stat system call', uringOpts, () => withTempDir(async (dir) => {
    const program = build(dir, 'uring-open');
    const r = await runTripline([program, ...FILES], { dir });
    if (r.exitCode === 77) return; // io_uring disabled on this kernel (io_uring_disabled): nothing to see
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    assert.ok(d.evidence.files.some((f) => f.syscalls.some((s) => s.includes('openat'))), JSON.stringify(d.evidence.files));
  }));

  void test('statfs of each area (whether it exists, without a stat)', opts, () => withTempDir(async (dir) => {
    const code = `import os\nfor d in ${JSON.stringify(THREE_DIRS)}:\n    os.statvfs(d)\n`;
    const r = await runTripline(['python3', '-c', code], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
  }));

  void test('paths padded with ./ far past any fixed string buffer', opts, () => withTempDir(async (dir) => {
    const pad = './'.repeat(300);
    const r = await runTripline(['cat', ...THREE_FILES.map((f) => `/${pad}proc/sys/net/${f}`)], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  // Neither eBPF program sees which object access(2) reached: its answer carries no device.
  const accessOpts = E2E_SENSOR === 'ebpf' ? { ...opts, skip: 'known limit of the eBPF sensors: access(2) through a symlink not spelled /proc (docs/sensors.md)' } : opts;
  void test('access(2) of each area through a symlink planted outside /proc', accessOpts, () => withTempDir(async (dir) => {
    const link = join(dir, 'n');
    const r = await runTripline(['sh', '-c', `ln -s ${NET} ${link} && [ -r ${link}/core ] && [ -r ${link}/ipv4 ] && [ -r ${link}/unix ]`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    assertDirectories(onlyFingerprint(r), THREE_DIRS);
  }));

  // A procfs of a new pid namespace has its own device number: a stat's answer does not match procfs's.
  const canUnshare = spawnSync('unshare', ['-rmpf', '--mount-proc', 'true']).status === 0;
  const freshStatOpts = !canUnshare ? { ...opts, skip: 'user, mount and pid namespaces are not available' }
    : E2E_SENSOR === 'ebpf' ? { ...opts, skip: 'known limit of the eBPF sensors: stat-only walk of a procfs with another device number (docs/sensors.md)' } : opts;
  void test('stat-only walk of a procfs mounted in a new pid namespace', freshStatOpts, () => withTempDir(async (dir) => {
    const mnt = join(dir, 'p');
    const script = `mkdir -p ${mnt} && mount -t proc proc ${mnt} && stat ${THREE_DIRS.map((d) => `${mnt}/sys/net/${d.slice(NET.length + 1)}`).join(' ')} >/dev/null`;
    const r = await runTripline(['unshare', '-rmpf', '--mount-proc', 'sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    assertDirectories(onlyFingerprint(r), THREE_DIRS);
  }));

  void test('stat of each area through a symlink planted outside /proc', opts, () => withTempDir(async (dir) => {
    const link = join(dir, 'n');
    const r = await runTripline(['sh', '-c', `ln -s ${NET} ${link} && stat ${link}/core ${link}/ipv4 ${link}/unix >/dev/null`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
  }));
});
