// `tripline report` on files of revisions (watch's JSONL): revisions are folded by id, the
// highest revision wins, a detection that never closed is reported as its last revision and
// said to be not closed, and a file written before revisions (no revision, no state) still
// reads as one final detection per line.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import type { Importance } from '../model/importance.ts';
import { main } from './main.ts';
import { RevisionFolder } from './report-command.ts';

const BASE = replayFixture('sysctl-a.strace').closed[0] as Detection;

function revision(id: string, rev: number, state: Detection['state'], importance: Importance): Detection {
  return { ...BASE, id, revision: rev, state, recipe: { ...BASE.recipe, importance } };
}

/** A line as written before revisions existed: no revision, no state. */
function legacyLine(id: string): string {
  const old: Record<string, unknown> = { ...BASE, id };
  delete old.revision;
  delete old.state;
  return JSON.stringify(old);
}

async function runMain(argv: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): NodeJS.WriteStream => ({ write: (chunk: unknown) => { add(String(chunk)); return true; }, columns: 0, isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: {}, cwd });
  return { stdout, stderr, code };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-report-revisions-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('revisions fold by id, the last wins; one never closed is its last revision, said to be not closed; a legacy line is one final detection', () => withDir(async (dir) => {
  const lines = [
    revision('a', 1, 'open', 'low'), revision('b', 1, 'open', 'low'), revision('a', 2, 'updated', 'low'),
    revision('b', 3, 'updated', 'medium'), revision('a', 3, 'closed', 'high'),
  ].map((d) => JSON.stringify(d));
  writeFileSync(join(dir, 'watch.jsonl'), `${[...lines, legacyLine('c')].join('\n')}\n`);
  const r = await runMain(['report', '--json', '--output', `sarif=${join(dir, 'out.sarif')}`, 'watch.jsonl'], dir);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  assert.equal(summary.detections, 3);
  assert.equal(summary.notClosed, 1);
  assert.deepEqual(summary.byImportance, { high: 1, medium: 1, low: 1 });
  assert.equal(summary.highestImportance, 'high');
  const sarif = JSON.parse(readFileSync(join(dir, 'out.sarif'), 'utf8')) as { runs: { results: unknown[] }[] };
  assert.equal(sarif.runs[0]?.results.length, 3, 'one SARIF result per detection, not per revision');
  assert.equal(r.stderr.match(/\(not closed: revision 3, the last written before the writer stopped/g)?.length, 1);
  assert.match(r.stderr, /tripline: 3 detection\(s\) from 1 file\(s\); 1 never closed \(the writer stopped first\): their last revision is reported$/m);
}));

test('the same revisions read twice (a file given twice) are reported once', () => withDir(async (dir) => {
  writeFileSync(join(dir, 'w.jsonl'), `${[revision('a', 1, 'open', 'low'), revision('a', 2, 'closed', 'low')].map((d) => JSON.stringify(d)).join('\n')}\n`);
  const r = await runMain(['report', '--json', '--quiet', 'w.jsonl', 'w.jsonl'], dir);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  assert.equal(summary.detections, 1);
  assert.equal(summary.notClosed, 0);
}));

test('a revision older than one already seen is ignored; the fold is bounded and says what it reported early', () => {
  const out: string[] = [];
  const folder = new RevisionFolder((d) => { out.push(`${d.id}#${String(d.revision)}/${d.state}`); }, 2);
  folder.add(revision('a', 2, 'updated', 'low'));
  folder.add(revision('a', 1, 'open', 'low'));
  assert.equal(folder.stale, 1);
  folder.add(revision('b', 1, 'open', 'low'));
  folder.add(revision('c', 1, 'open', 'low'));
  assert.deepEqual(out, ['a#2/updated'], 'the oldest held is reported when a third is held');
  assert.equal(folder.reportedEarly, 1);
  folder.add(revision('a', 3, 'updated', 'low'));
  assert.deepEqual(out, ['a#2/updated'], 'a later open revision of one reported early waits for its close');
  folder.add(revision('b', 2, 'closed', 'low'));
  folder.finish();
  assert.deepEqual(out, ['a#2/updated', 'b#2/closed', 'c#1/open']);
});
