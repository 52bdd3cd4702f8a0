// End to end, real strace: however a process spells its way into /proc/sys/net (relative to a
// cwd or a dirfd, through /proc/*/root, with . .. //, through a symlink), the detection names
// it and reports canonical paths.

import assert from 'node:assert/strict';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  assertCanonicalEvidence, assertDirectories, EBPF_BPFTRACE, evidenceFile, exceptUnderBpftrace, NET, onlyFingerprint, PYTHON, readPid, runTripline, TEST_TIMEOUT,
  THREE_DIRS, THREE_FILES, withTempDir,
} from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };
const pyOpts = PYTHON === undefined ? { ...opts, skip: 'python3 is not installed' } : opts;

/** Asserts the detection is `cat`, the traced command itself, alone (scope process). */
function assertRootCat(d: ReturnType<typeof onlyFingerprint>, argv: readonly string[]): void {
  assert.equal(d.subject.scope, 'process');
  assert.equal(d.subject.process.comm, 'cat');
  assert.deepEqual(d.subject.process.argv, ['cat', ...argv]);
  assert.deepEqual(d.subject.ancestry, [], 'cat is the monitored command itself');
  assert.deepEqual(d.subject.members, []);
}

void describe('detected: spellings of /proc/sys/net', () => {
  void test('relative paths after cd /proc/sys/net: one cat reading three dirs', opts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'sh.pid');
    const r = await runTripline(['sh', '-c', `echo $$ > ${pidFile}; cd ${NET} && cat ${THREE_FILES.join(' ')}`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.comm, 'cat');
    assert.deepEqual(d.subject.process.argv, ['cat', ...THREE_FILES]);
    assert.equal(d.subject.process.cwd, NET);
    assert.equal(d.subject.process.ppid, readPid(pidFile));
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    for (const f of THREE_FILES) assert.deepEqual(evidenceFile(d, `${NET}/${f}`).spelledAs, [f]);
  }));

  void test('openat relative to a directory fd (python3 os.open dir_fd=)', pyOpts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'py.pid');
    const script = [
      'import os, sys',
      `open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))`,
      `fd = os.open(${JSON.stringify(NET)}, os.O_RDONLY | os.O_DIRECTORY)`,
      `for p in ${JSON.stringify(THREE_FILES)}:`,
      '    f = os.open(p, os.O_RDONLY, dir_fd=fd)',
      '    os.read(f, 100)',
      '    os.close(f)',
    ].join('\n');
    const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.pid, readPid(pidFile));
    assert.match(d.subject.process.comm, /^python3/);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    for (const f of THREE_FILES) assert.deepEqual(evidenceFile(d, `${NET}/${f}`).spelledAs, [f]);
    // Opening the root itself is evidence, never a counted directory.
    assert.equal(evidenceFile(d, NET).counted, false);
  }));

  void test('/proc/self/root/proc/sys/net/... prefixes', opts, () => withTempDir(async (dir) => {
    const args = THREE_FILES.map((f) => `/proc/self/root${NET}/${f}`);
    const r = await runTripline(['cat', ...args], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertRootCat(d, args);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    for (const f of THREE_FILES) assert.deepEqual(evidenceFile(d, `${NET}/${f}`).spelledAs, [`/proc/self/root${NET}/${f}`]);
  }));

  // Root magic links of another process and of the calling thread. /proc/1/root may be refused
  // (EACCES), which still counts: the setting exists and was tried.
  const rootPrefixes: readonly { name: string; prefix: string; mayBeRefused: boolean }[] = [
    { name: 'another process (the test runner)', prefix: `/proc/${process.pid}/root`, mayBeRefused: false },
    { name: 'pid 1', prefix: '/proc/1/root', mayBeRefused: true },
    { name: 'the calling thread', prefix: '/proc/thread-self/root', mayBeRefused: false },
  ];
  for (const { name, prefix, mayBeRefused } of rootPrefixes) {
    void test(`${prefix}/... prefixes: ${name}`, exceptUnderBpftrace(opts, '/proc/self/root/proc/sys/net/... prefixes'), () => withTempDir(async (dir) => {
      const args = THREE_FILES.map((f) => `${prefix}${NET}/${f}`);
      const r = await runTripline(['cat', ...args], { dir });
      if (!mayBeRefused) assert.equal(r.exitCode, 0, r.stderr);
      const d = onlyFingerprint(r);
      assertRootCat(d, args);
      assertDirectories(d, THREE_DIRS);
      assertCanonicalEvidence(d);
    }));
  }

  void test('. .. and // spellings', exceptUnderBpftrace(opts, '/proc/self/root/proc/sys/net/... prefixes'), () => withTempDir(async (dir) => {
    const args = ['//proc/./sys/../sys/net/ipv4/ip_forward', `${NET}/core/../unix/max_dgram_qlen`, '/proc//sys/net/./core//somaxconn'];
    const r = await runTripline(['cat', ...args], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertRootCat(d, args);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    assert.deepEqual(evidenceFile(d, `${NET}/ipv4/ip_forward`).spelledAs, [args[0]]);
    assert.deepEqual(evidenceFile(d, `${NET}/unix/max_dgram_qlen`).spelledAs, [args[1]]);
    assert.deepEqual(evidenceFile(d, `${NET}/core/somaxconn`).spelledAs, [args[2]]);
  }));

  void test('a symlink to /proc/sys/net: one cat through it', opts, () => withTempDir(async (dir) => {
    const link = join(dir, 'n');
    symlinkSync(NET, link);
    const args = THREE_FILES.map((f) => `${link}/${f}`);
    const r = await runTripline(['cat', ...args], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assertRootCat(d, args);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    for (const f of THREE_FILES) assert.deepEqual(evidenceFile(d, `${NET}/${f}`).spelledAs, [`${link}/${f}`]);
  }));

  void test('a symlink to /proc/sys/net: one open through it, then a stat-only walk', opts, () => withTempDir(async (dir) => {
    const link = join(dir, 'n');
    symlinkSync(NET, link);
    const pidFile = join(dir, 'sh.pid');
    const statted = [`${link}/ipv4/ip_forward`, `${link}/unix/max_dgram_qlen`, `${link}/ipv4/conf/all/forwarding`];
    const script = `echo $$ > ${pidFile}; cat ${link}/core/somaxconn >/dev/null; stat ${statted.join(' ')} >/dev/null`;
    const r = await runTripline(['sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    // stat alone reads three areas: it is the actor, whatever the order its lines and cat's
    // arrive in (the shell's tree waits for its running children; one that fires on its own
    // is not counted again in it, and cat's single read is not enough by itself).
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.comm, 'stat');
    assert.equal(d.subject.ancestry[0]?.pid, readPid(pidFile));
    assertDirectories(d, [`${NET}/ipv4`, `${NET}/unix`, `${NET}/ipv4/conf/all`]);
    assertCanonicalEvidence(d);
    for (const spelled of statted) {
      const f = evidenceFile(d, spelled.replace(link, NET));
      assert.deepEqual(f.actions, ['stat']);
      assert.equal(f.counted, true);
      // bpftrace's program cuts strings at 51 bytes; a cut spelling is not reported.
      assert.deepEqual(f.spelledAs, EBPF_BPFTRACE && Buffer.byteLength(spelled) >= 51 ? [] : [spelled]);
    }
    assert.deepEqual(d.subject.members, [], 'stat alone');
  }));

  void test('a stat-only walk through the symlink by a single process (python3)', pyOpts, () => withTempDir(async (dir) => {
    const link = join(dir, 'n');
    symlinkSync(NET, link);
    const script = [
      'import os',
      `open(${JSON.stringify(`${link}/core/somaxconn`)}).read()`,
      `for p in ["ipv4/ip_forward", "unix/max_dgram_qlen", "ipv4/conf"]: os.stat(${JSON.stringify(link)} + "/" + p)`,
    ].join('\n');
    const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assertDirectories(d, [...THREE_DIRS, `${NET}/ipv4/conf`]);
    assertCanonicalEvidence(d);
    assert.deepEqual(evidenceFile(d, `${NET}/ipv4/conf`).actions, ['stat']);
  }));

  void test('fchdir into /proc/sys/net, then relative opens (python3)', pyOpts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'py.pid');
    const script = [
      'import os',
      `open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))`,
      `fd = os.open(${JSON.stringify(NET)}, os.O_RDONLY)`,
      'os.fchdir(fd)',
      `for p in ${JSON.stringify(THREE_FILES)}:`,
      '    with open(p) as f: f.read()',
    ].join('\n');
    const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.pid, readPid(pidFile));
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    for (const f of THREE_FILES) assert.deepEqual(evidenceFile(d, `${NET}/${f}`).spelledAs, [f]);
  }));

  void test('a script file run by path: relative reads after cd through a symlink', opts, () => withTempDir(async (dir) => {
    const link = join(dir, 'n');
    symlinkSync(NET, link);
    const script = join(dir, 'recon.sh');
    writeFileSync(script, `cd ${link} || exit 9\ncat ${THREE_FILES.join(' ')} >/dev/null\n`);
    const r = await runTripline(['sh', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.comm, 'cat');
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));
});

// stat, access and readlink return no fd, so strace cannot print the kernel's resolution:
// these paths are canonicalized by tripline alone.
void describe('detected: stat-only spellings (no fd for the kernel to name)', () => {
  void test('stat via /proc/self/root, . and ..', opts, () => withTempDir(async (dir) => {
    const args = [`/proc/self/root${NET}/core/somaxconn`, `${NET}/./ipv4/../ipv4/ip_forward`, `//proc/sys//net/unix/max_dgram_qlen`];
    const r = await runTripline(['stat', ...args], { dir, options: ['--quiet'] });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.comm, 'stat');
    assert.deepEqual(d.evidence.directories, [...THREE_DIRS]);
    assertCanonicalEvidence(d);
  }));

  void test('stat via /proc/<shell pid>/cwd after the shell cd\'d into /proc/sys/net', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sh', '-c', `cd ${NET} && stat ${THREE_FILES.map((f) => `/proc/$$/cwd/${f}`).join(' ')} >/dev/null`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.comm, 'stat');
    assert.deepEqual(d.evidence.directories, [...THREE_DIRS]);
    assertCanonicalEvidence(d);
  }));

  void test('os.stat via /proc/self/fd/N of a directory fd (python3)', pyOpts, () => withTempDir(async (dir) => {
    const script = [
      'import os',
      `fd = os.open(${JSON.stringify(NET)}, os.O_RDONLY | os.O_DIRECTORY)`,
      `for p in ${JSON.stringify(THREE_FILES)}: os.stat("/proc/self/fd/%d/%s" % (fd, p))`,
    ].join('\n');
    const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.deepEqual(d.evidence.directories, [...THREE_DIRS]);
    assertCanonicalEvidence(d);
  }));

  void test('os.stat via /proc/thread-self/root from a non-main thread (python3)', pyOpts, () => withTempDir(async (dir) => {
    const script = [
      'import os, threading',
      `def walk(): [os.stat("/proc/thread-self/root${NET}/" + p) for p in ${JSON.stringify(THREE_FILES)}]`,
      't = threading.Thread(target=walk)',
      't.start()',
      't.join()',
    ].join('\n');
    const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.deepEqual(d.evidence.directories, [...THREE_DIRS]);
    assertCanonicalEvidence(d);
  }));
});
