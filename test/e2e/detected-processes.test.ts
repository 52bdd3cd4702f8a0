// End to end, real strace: who the detection names when the reads are spread over processes
// and threads (shell loops, subshells, threads, a setsid child), and what counts: listings,
// stat-only probes, find walks, sysctl dumps.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  assertCanonicalEvidence, assertDirectories, evidenceFile, NET, onlyFingerprint, PYTHON, readPid, runTripline, TEST_TIMEOUT,
  THREE_DIRS, THREE_FILES, which, withTempDir,
} from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };
const pyOpts = PYTHON === undefined ? { ...opts, skip: 'python3 is not installed' } : opts;
const BASH = which('bash');
const bashOpts = BASH === undefined ? { ...opts, skip: 'bash is not installed' } : opts;
const SYSCTL = which('sysctl');
const sysctlOpts = SYSCTL === undefined ? { ...opts, skip: 'sysctl (procps) is not installed' } : opts;
const KEYS = THREE_FILES.join(' ');

void describe('detected: process trees', () => {
  void test('a shell loop of separate cats: scope process-tree, subject the sh', opts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'sh.pid');
    const script = `echo $$ > ${pidFile}; for k in ${KEYS}; do cat ${NET}/$k >/dev/null; done`;
    const r = await runTripline(['sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    const shPid = readPid(pidFile);
    assert.equal(d.subject.scope, 'process-tree');
    assert.equal(d.subject.process.pid, shPid);
    assert.equal(d.subject.process.comm, 'sh');
    assert.deepEqual(d.subject.ancestry, []);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    const cats = d.subject.members.filter((m) => m.comm === 'cat');
    assert.equal(cats.length, 3, JSON.stringify(d.subject.members));
    for (const c of cats) assert.equal(c.ppid, shPid);
    // Each file was read by a different process.
    const readers = new Set(THREE_FILES.map((f) => evidenceFile(d, `${NET}/${f}`).pids.join(',')));
    assert.equal(readers.size, 3);
  }));

  void test('the demo-like loop over six settings: still exactly one detection', opts, () => withTempDir(async (dir) => {
    const keys = 'core/somaxconn ipv4/ip_forward ipv4/tcp_syncookies ipv4/conf/all/rp_filter unix/max_dgram_qlen core/netdev_max_backlog';
    const r = await runTripline(['sh', '-c', `for k in ${keys}; do v=$(cat ${NET}/$k 2>/dev/null) && echo "$k=$v"; done`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process-tree');
    assert.equal(d.subject.process.comm, 'sh');
    assertDirectories(d, [...THREE_DIRS, `${NET}/ipv4/conf/all`]);
    assertCanonicalEvidence(d);
  }));

  void test('bash x=$(cat f) subshells (the subshell execs cat): subject is the script shell', bashOpts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'bash.pid');
    const script = join(dir, 'audit.sh');
    writeFileSync(script, `echo $$ > ${pidFile}\nfor k in ${KEYS}; do x=$(cat ${NET}/$k); echo "$k=$x"; done\n`);
    const r = await runTripline(['bash', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process-tree');
    assert.equal(d.subject.process.pid, readPid(pidFile));
    assert.equal(d.subject.process.comm, 'bash');
    assert.deepEqual(d.subject.process.argv, ['bash', script]);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  void test('bash x=$(cat f; :) subshells (the subshell forks cat): subject is the script shell', bashOpts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'bash.pid');
    const script = join(dir, 'audit.sh');
    writeFileSync(script, `echo $$ > ${pidFile}\nfor k in ${KEYS}; do x=$(cat ${NET}/$k; :); echo "$k=$x"; done\n`);
    const r = await runTripline(['bash', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    const bashPid = readPid(pidFile);
    assert.equal(d.subject.scope, 'process-tree');
    assert.equal(d.subject.process.pid, bashPid);
    assert.equal(d.subject.process.comm, 'bash');
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    // The cats' parents are subshells (forks of the script's bash), not the bash itself.
    const cats = d.subject.members.filter((m) => m.comm === 'cat');
    assert.equal(cats.length, 3);
    for (const c of cats) assert.notEqual(c.ppid, bashPid);
  }));

  void test('bash x=$(<f): the subshell reads itself, the script shell is the subject', bashOpts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'bash.pid');
    const r = await runTripline(['bash', '-c', `echo $$ > ${pidFile}; for k in ${KEYS}; do x=$(<${NET}/$k); done`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.pid, readPid(pidFile));
    assert.equal(d.subject.process.comm, 'bash');
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  void test('python3 subprocess.run of three cats: scope process-tree, subject python3', pyOpts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'py.pid');
    const script = [
      'import os, subprocess',
      `open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))`,
      `for p in ${JSON.stringify(THREE_FILES)}: subprocess.run(["cat", "${NET}/" + p], stdout=subprocess.DEVNULL, check=True)`,
    ].join('\n');
    const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process-tree');
    assert.equal(d.subject.process.pid, readPid(pidFile));
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  void test('a multi-threaded reader: one process-scope detection for the python pid', pyOpts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'py.pid');
    const files = [...THREE_FILES, 'ipv4/conf/all/rp_filter'];
    const script = [
      'import os, threading',
      `open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))`,
      'tids = set()',
      'def read(p):',
      '    tids.add(threading.get_native_id())',
      `    with open("${NET}/" + p) as f: f.read()`,
      'go = threading.Barrier(4)',
      'def run(p):',
      '    go.wait()',
      '    read(p)',
      `ts = [threading.Thread(target=run, args=(p,)) for p in ${JSON.stringify(files)}]`,
      'for t in ts: t.start()',
      'for t in ts: t.join()',
      'assert len(tids) == 4, tids',
    ].join('\n');
    const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    const pyPid = readPid(pidFile);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.pid, pyPid);
    assert.deepEqual(d.subject.members, [], 'threads are not separate processes');
    assertDirectories(d, [...THREE_DIRS, `${NET}/ipv4/conf/all`]);
    assertCanonicalEvidence(d);
    for (const f of files) assert.deepEqual(evidenceFile(d, `${NET}/${f}`).pids, [pyPid], `${f} attributed to the process, not a thread id`);
  }));

  void test('a setsid background child outliving its parent sh: tripline waits and detects it', opts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'parent.pid');
    const files = THREE_FILES.map((f) => `${NET}/${f}`).join(' ');
    // The child sleeps so that the parent has exited by the time it reads.
    const script = `echo $$ > ${pidFile}; setsid sh -c 'sleep 0.15; cat ${files} >/dev/null' & exit 5`;
    const r = await runTripline(['sh', '-c', script], { dir });
    assert.equal(r.exitCode, 5, `the parent's exit code, not the child's; ${r.stderr}`);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.comm, 'cat');
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    const parent = d.subject.ancestry.find((a) => a.pid === readPid(pidFile));
    assert.ok(parent !== undefined, `the parent sh is in the ancestry: ${JSON.stringify(d.subject.ancestry.map((a) => a.pid))}`);
    assert.ok(parent.exit !== null && Date.parse(parent.exit.time) < Date.parse(d.evidence.first), 'the parent had exited before the reads');
  }));

  void test('a setsid background shell loop of cats outliving its parent', opts, () => withTempDir(async (dir) => {
    const script = `setsid sh -c 'sleep 0.15; for k in ${KEYS}; do cat ${NET}/$k >/dev/null; done' & exit 0`;
    const r = await runTripline(['sh', '-c', script], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process-tree');
    assert.equal(d.subject.process.comm, 'sh');
    assertDirectories(d, THREE_DIRS);
  }));

  void test('a background subshell (fork, no exec) of cats, outliving the script',
    opts,
    () => withTempDir(async (dir) => {
      const script = `( sleep 0.15; for k in ${KEYS}; do cat ${NET}/$k >/dev/null; done ) & exit 0`;
      const r = await runTripline(['sh', '-c', script], { dir });
      assert.equal(r.exitCode, 0, r.stderr);
      const d = onlyFingerprint(r);
      assert.equal(d.subject.scope, 'process-tree');
      assert.equal(d.subject.process.comm, 'sh');
      assertDirectories(d, THREE_DIRS);
    }));

  void test('a daemonized python3 fork running three cats after its parent exited',
    pyOpts,
    () => withTempDir(async (dir) => {
      const script = [
        'import os, subprocess, time',
        'if os.fork() == 0:',
        '    time.sleep(0.15)',
        `    for p in ${JSON.stringify(THREE_FILES)}: subprocess.run(["cat", "${NET}/" + p], stdout=subprocess.DEVNULL)`,
        '    os._exit(0)',
      ].join('\n');
      const r = await runTripline([PYTHON ?? 'python3', '-c', script], { dir });
      assert.equal(r.exitCode, 0, r.stderr);
      const d = onlyFingerprint(r);
      assert.equal(d.subject.scope, 'process-tree');
      assertDirectories(d, THREE_DIRS);
    }));
});

void describe('detected: what counts', () => {
  void test('directory listings only (ls of three dirs)', opts, () => withTempDir(async (dir) => {
    const dirs = [...THREE_DIRS];
    const r = await runTripline(['sh', '-c', `ls ${dirs.join(' ')} >/dev/null`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.comm, 'ls');
    assert.deepEqual(d.evidence.directories, dirs);
    assertCanonicalEvidence(d);
    for (const x of dirs) assert.ok(evidenceFile(d, x).actions.includes('list'));
  }));

  void test('stat only of three files', opts, () => withTempDir(async (dir) => {
    const files = THREE_FILES.map((f) => `${NET}/${f}`);
    const r = await runTripline(['sh', '-c', `stat ${files.join(' ')} >/dev/null`], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.comm, 'stat');
    assert.deepEqual(d.evidence.directories, [...THREE_DIRS]);
    assertCanonicalEvidence(d);
    for (const f of files) assert.deepEqual(evidenceFile(d, f).actions, ['stat']);
  }));

  void test('test -d of three directories in a shell: each dir counts for itself', opts, () => withTempDir(async (dir) => {
    const pidFile = join(dir, 'sh.pid');
    const tests = ['core', 'ipv4/conf', 'unix'].map((x) => `test -d ${NET}/${x}`).join(' && ');
    const r = await runTripline(['sh', '-c', `echo $$ > ${pidFile}; ${tests} && exit 3`], { dir });
    assert.equal(r.exitCode, 3, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.process.pid, readPid(pidFile));
    assert.equal(d.subject.scope, 'process');
    assert.deepEqual(d.evidence.directories, [`${NET}/core`, `${NET}/ipv4/conf`, `${NET}/unix`]);
    assertCanonicalEvidence(d);
  }));

  void test('a find /proc/sys/net walk: process scope, many dirs', opts, () => withTempDir(async (dir) => {
    const r = await runTripline(['find', NET], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.comm, 'find');
    assert.deepEqual(d.subject.ancestry, []);
    assertDirectories(d, [...THREE_DIRS, `${NET}/ipv4/conf`, `${NET}/ipv4/conf/all`]);
    assert.ok(d.evidence.directoryCount >= 10, `only ${d.evidence.directoryCount} dirs`);
    assertCanonicalEvidence(d);
    // find's stdout went through untouched.
    const listed = r.stdout.split('\n').filter((l) => l !== '');
    assert.equal(listed[0], NET);
    assert.ok(listed.length > d.evidence.directoryCount);
  }));

  void test('sysctl -a: process scope', sysctlOpts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sysctl', '-a'], { dir });
    const d = onlyFingerprint(r);
    assert.equal(d.recipe.id, 'os_network_fingerprint');
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.comm, 'sysctl');
    assert.deepEqual(d.subject.process.argv, ['sysctl', '-a']);
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
  }));

  void test('sysctl net: process scope', sysctlOpts, () => withTempDir(async (dir) => {
    const r = await runTripline(['sysctl', 'net'], { dir });
    assert.equal(r.exitCode, 0, r.stderr);
    const d = onlyFingerprint(r);
    assert.equal(d.subject.scope, 'process');
    assert.equal(d.subject.process.comm, 'sysctl');
    assertDirectories(d, THREE_DIRS);
    assertCanonicalEvidence(d);
    assert.match(r.stdout, /^net\.core\.somaxconn = \d+$/m);
  }));
});
