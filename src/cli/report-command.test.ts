// `tripline report`: files of any size are streamed, and a missing or broken input is an error
// that names it while every detection that could be read still reaches the outputs.

import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import { main } from './main.ts';
import { MAX_LINE_BYTES } from './report-command.ts';

interface Captured {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

async function runMain(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): NodeJS.WriteStream => ({ write: (chunk: unknown) => { add(String(chunk)); return true; }, columns: 0, isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, cwd });
  return { stdout, stderr, code };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-report-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A real detection (sysctl -a: 74 KB of JSON) as one JSONL line; `copy` makes it another detection (its own id). */
function sysctlLine(copy = 0): string {
  const [d] = replayFixture('sysctl-a.strace').closed;
  assert.ok(d);
  return `${JSON.stringify(copy === 0 ? d : { ...d, id: `${d.id}-copy${String(copy)}` })}\n`;
}

function githubEnv(dir: string): NodeJS.ProcessEnv {
  writeFileSync(join(dir, 'summary.md'), '');
  writeFileSync(join(dir, 'output.txt'), '');
  return { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: join(dir, 'summary.md'), GITHUB_OUTPUT: join(dir, 'output.txt'), GITHUB_WORKSPACE: dir };
}

void describe('tripline report', () => {
  void test('a JSONL file over 1 MiB (20 sysctl -a detections) makes a summary of 20 detections', () => withDir(async (dir) => {
    const file = join(dir, 'big.jsonl');
    writeFileSync(file, Array.from({ length: 20 }, (_, i) => sysctlLine(i)).join(''));
    assert.ok(readFileSync(file).length > 1024 * 1024, 'the file is over 1 MiB');
    const r = await runMain(['report', '--output', 'github', '--output', `sarif=${join(dir, 'out.sarif')}`, file], dir, githubEnv(dir));
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(join(dir, 'summary.md'), 'utf8'), /^20 detection\(s\)\./m);
    assert.match(readFileSync(join(dir, 'output.txt'), 'utf8'), /^detections<<(TRIPLINE_[0-9a-f]+)\n20\n\1$/m);
    assert.equal(r.stdout.split('\n').filter((l) => l.startsWith('::notice title=Tripline%3A')).length, 20);
    const sarif = JSON.parse(readFileSync(join(dir, 'out.sarif'), 'utf8')) as { runs: { results: unknown[] }[] };
    assert.equal(sarif.runs[0]?.results.length, 20);
    assert.match(r.stderr, /tripline: 20 detection\(s\) from 1 file\(s\)$/m);
  }));

  void test('a missing file is an error naming it (exit 64), not an empty report that passes --fail-on', () => withDir(async (dir) => {
    const missing = join(dir, 'gone.jsonl');
    const r = await runMain(['report', '--fail-on', 'low', '--output', 'github', missing], dir, githubEnv(dir));
    assert.equal(r.code, 64, r.stderr);
    assert.ok(r.stderr.includes(`tripline: report: ${missing}: no such file`), r.stderr);
  }));

  void test('a line over 16 MiB, a line that is not JSON and a missing file are named; every good detection still goes out', () => withDir(async (dir) => {
    const file = join(dir, 'mixed.jsonl');
    writeFileSync(file, sysctlLine(1));
    appendFileSync(file, `{"x":"${'a'.repeat(MAX_LINE_BYTES)}"}\n`);
    appendFileSync(file, sysctlLine(2));
    appendFileSync(file, 'not json\n');
    appendFileSync(file, sysctlLine(3));
    const r = await runMain(['report', '--output', 'github', file, join(dir, 'gone.jsonl')], dir, githubEnv(dir));
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /mixed\.jsonl:2: line of 16777224 bytes, longer than the 16777216 allowed; skipped/);
    assert.match(r.stderr, /mixed\.jsonl:4: not JSON/);
    assert.match(r.stderr, /gone\.jsonl: no such file/);
    assert.match(readFileSync(join(dir, 'summary.md'), 'utf8'), /^3 detection\(s\)\./m);
    assert.match(r.stderr, /tripline: 3 detection\(s\) from 2 file\(s\); 3 problem\(s\) with the input$/m);
  }));

  void test('--fail-on still fails on what was read when another file is missing (77 wins: detections are the finding)', () => withDir(async (dir) => {
    const file = join(dir, 'one.jsonl');
    writeFileSync(file, sysctlLine());
    const r = await runMain(['report', '--fail-on', 'low', file, join(dir, 'gone.jsonl')], dir);
    assert.equal(r.code, 77, r.stderr);
    assert.match(r.stderr, /gone\.jsonl: no such file/);
  }));

  void test('a line written before the sensor block had loss fields is read as complete; a line with loss says it may be incomplete', () => withDir(async (dir) => {
    const [d] = replayFixture('three-areas.strace').closed;
    assert.ok(d);
    const old = { ...d, id: 'old-1', sensor: { name: 'strace', version: '6.1' } };
    const lossy = { ...d, id: 'lossy-1', sensor: { name: 'bpftrace', version: '0.20.2', eventsLost: 12, gaps: [{ start: d.evidence.first, end: null }], complete: false } };
    const file = join(dir, 'mixed-versions.jsonl');
    writeFileSync(file, `${JSON.stringify(old)}\n${JSON.stringify(lossy)}\n`);
    const sarifFile = join(dir, 'out.sarif');
    const r = await runMain(['report', '--output', 'github', '--output', `sarif=${sarifFile}`, file], dir, githubEnv(dir));
    assert.equal(r.code, 0, r.stderr);
    const sarif = JSON.parse(readFileSync(sarifFile, 'utf8')) as { runs: { results: { properties: { detectionId: string; sensor: unknown } }[] }[] };
    assert.deepEqual(sarif.runs[0]?.results.map((x) => [x.properties.detectionId, x.properties.sensor]), [
      ['old-1', { name: 'strace', version: '6.1', eventsLost: 0, gaps: [], complete: true }],
      ['lossy-1', lossy.sensor],
    ]);
    assert.match(r.stderr, /\n {2}sensor {4}evidence may be incomplete: 12 events lost while this process tree ran; sensor down from/);
    assert.equal(r.stderr.match(/evidence may be incomplete/g)?.length, 1, 'only the lossy detection');
    assert.match(readFileSync(join(dir, 'summary.md'), 'utf8'), /\*\*Evidence may be incomplete\*\* for 1 of 2 detection\(s\)/);
    assert.match(r.stderr, /tripline: 2 detection\(s\) from 1 file\(s\); 1 incomplete \(sensor lost events, was down\)$/m);
  }));

  void test('a sensor block with only some of the loss fields is not a detection', () => withDir(async (dir) => {
    const [d] = replayFixture('three-areas.strace').closed;
    assert.ok(d);
    const file = join(dir, 'half.jsonl');
    writeFileSync(file, `${JSON.stringify({ ...d, sensor: { name: 'bpftrace', version: null, complete: false } })}\n`);
    const r = await runMain(['report', file], dir);
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /half\.jsonl:1: not a valid tripline\.detection\/v1 object: \/sensor must have properties? eventsLost/);
  }));

  void test('--json: the summary as the last line on stdout, with the problems', () => withDir(async (dir) => {
    writeFileSync(join(dir, 'a.jsonl'), `${sysctlLine(1)}${sysctlLine(2)}not json\n`);
    const r = await runMain(['report', '--json', '--quiet', '--fail-on', 'low', 'a.jsonl'], dir);
    assert.equal(r.code, 77, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    assert.equal(summary.detections, 2);
    assert.equal(summary.highestImportance, 'low');
    assert.deepEqual(summary.byImportance, { low: 2 });
    assert.deepEqual(summary.byRecipe, { os_network_fingerprint: 2 });
    assert.equal(summary.problems, 1);
    assert.deepEqual(summary.problemsShown, [{ where: 'a.jsonl:3', problem: (summary.problemsShown as { problem: string }[])[0]?.problem }]);
    assert.equal(summary.failing, true);
  }));
});
