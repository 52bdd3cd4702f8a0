// End to end: lineage an attacker rewrites. A reader whose parent died and whose parent's pid
// was taken over at once by another process (clone3 with set_tid, root in Tripline's pid
// namespace): the reader must stay under its true parent, an exception on the new holder's
// program must not cover it, and readers split across such intermediates must still add up in
// the script that started them. Traced under the sensor under test (TRIPLINE_E2E_SENSOR).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { assertDirectories, describeRun, IS_ROOT, NET, onlyFingerprint, runTripline, TEST_TIMEOUT, THREE_DIRS, THREE_FILES, withTempDir } from './run-tripline.ts';

const PROGRAMS = fileURLToPath(new URL('./programs/', import.meta.url));
const FILES = THREE_FILES.map((f) => `${NET}/${f}`);
const haveCompiler = spawnSync('cc', ['--version']).status === 0;
const opts = !haveCompiler ? { timeout: TEST_TIMEOUT, skip: 'no C compiler (cc) to build the test program' }
  : !IS_ROOT ? { timeout: TEST_TIMEOUT, skip: 'clone3 with set_tid in Tripline\'s own pid namespace needs root' }
  : { timeout: TEST_TIMEOUT };

/** Builds test/e2e/programs/pid-takeover.c into DIR. */
function build(dir: string): string {
  const out = join(dir, 'pid-takeover');
  const r = spawnSync('cc', ['-O1', '-o', out, join(PROGRAMS, 'pid-takeover.c')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

interface Takeover {
  readonly reader: number;
  readonly intermediate: number;
}

/** The program's own record of what it did: one line per reader. */
function readTakeovers(path: string): Takeover[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => {
    const m = /^reader (\d+) intermediate (\d+) holder (\d+)$/.exec(line);
    assert.ok(m !== null, `unexpected line ${JSON.stringify(line)}`);
    assert.equal(m[3], m[2], 'the holder took the intermediate\'s pid');
    return { reader: Number(m[1]), intermediate: Number(m[2]) };
  });
}

/** An exception for whatever sleep (the new holder of the pid) is a parent or an ancestor of. */
function decoyConfig(dir: string): string {
  const sleep = realpathSync('/bin/sleep');
  const path = join(dir, 'tripline.yaml');
  writeFileSync(path, `exceptions:\n  - name: decoy-parent\n    reason: the new holder of the pid\n    parent_exe: ${sleep}\n  - name: decoy-ancestor\n    reason: the new holder of the pid\n    ancestor_exe: ${sleep}\n`);
  return path;
}

void describe('lineage: a dead parent\'s pid taken over with clone3(set_tid)', () => {
  void test('the reader stays under its true parent, and an exception on the new holder does not apply', opts, () => withTempDir(async (dir) => {
    const program = build(dir);
    const record = join(dir, 'takeovers');
    const r = await runTripline([program, 'single', record, ...FILES], { dir, options: ['--config', decoyConfig(dir)] });
    assert.equal(r.exitCode, 0, describeRun(r));
    const [t] = readTakeovers(record);
    assert.ok(t !== undefined);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    assert.equal(d.subject.process.pid, t.reader);
    assert.equal(d.subject.process.comm, 'cat');
    // Its parent is the intermediate that forked it (the program, not the sleep now on its pid), then the program.
    const [parent, grandparent] = d.subject.ancestry;
    assert.equal(parent?.pid, t.intermediate, describeRun(r));
    assert.equal(parent.exe, program);
    assert.equal(grandparent?.exe, program);
    assert.ok(!d.subject.ancestry.some((a) => a.exe === realpathSync('/bin/sleep')), JSON.stringify(d.subject.ancestry));
    assert.doesNotMatch(r.stderr, /exception "os_network_fingerprint: decoy/);
  }));

  void test('readers split across such intermediates still add up in the script that started them', opts, () => withTempDir(async (dir) => {
    const program = build(dir);
    const record = join(dir, 'takeovers');
    const r = await runTripline([program, 'split', record, ...FILES], { dir, options: ['--config', decoyConfig(dir)] });
    assert.equal(r.exitCode, 0, describeRun(r));
    const takeovers = readTakeovers(record);
    assert.equal(takeovers.length, 3);
    const d = onlyFingerprint(r);
    assertDirectories(d, THREE_DIRS);
    // The program itself (the root of the run), not the helper whose children hold the pids now.
    assert.equal(d.subject.scope, 'process-tree', describeRun(r));
    assert.equal(d.subject.process.exe, program);
    assert.deepEqual(d.subject.process.argv.slice(1, 2), ['split']);
    // Each reader's own file, by that reader.
    const readers = takeovers.map((x) => x.reader).sort((a, b) => a - b);
    assert.deepEqual([...new Set(d.evidence.files.filter((f) => f.counted).flatMap((f) => f.pids))].sort((a, b) => a - b), readers);
    assert.doesNotMatch(r.stderr, /exception "os_network_fingerprint: decoy/);
  }));
});
