// `tripline detections` in process over real stores in temp dirs: filters and their errors,
// paging notes, export order and formats, prune, and where the store comes from.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { openDetectionStore } from '../store/sqlite-detection-store.ts';
import { main } from './main.ts';

/** main() with captured stdout and stderr. */
async function runMain(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ stdout: string; stderr: string; code: number }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): NodeJS.WriteStream => ({ write: (chunk: unknown) => { add(String(chunk)); return true; }, columns: 0, isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, cwd });
  return { stdout, stderr, code };
}

const BASE = replayFixture('audit-cat-loop.strace').closed[0] as Detection;
const HOUR = 3_600_000;
let dir: string;
let store: string;

/** Three detections: 3 h, 2 h and 1 h ago, on hosts a, b, a. */
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tripline-detections-cmd-'));
  store = join(dir, 'tripline.db');
  const s = openDetectionStore({ path: store, create: true });
  [['old', 3, 'a'], ['mid', 2, 'b'], ['new', 1, 'a']].forEach(([id, hoursAgo, host]) => {
    s.record({ detection: { ...BASE, id: String(id), time: new Date(Date.now() - Number(hoursAgo) * HOUR).toISOString(), host: { ...BASE.host, hostname: String(host) } }, revision: 1, state: 'closed' });
  });
  s.close();
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function ids(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const r = await runMain(['detections', 'list', '--json', ...args, ...(env.TRIPLINE_STORE === undefined ? ['--store', store] : [])], env, dir);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { id: string }[]).map((x) => x.id);
}

describe('detections list', () => {
  test('--since and --until take an age or an ISO time; --host repeats or takes commas', async () => {
    assert.deepEqual(await ids([]), ['new', 'mid', 'old']);
    assert.deepEqual(await ids(['--since', '150m']), ['new', 'mid']);
    assert.deepEqual(await ids(['--until', '90m']), ['mid', 'old']);
    assert.deepEqual(await ids(['--since', new Date(Date.now() - 2.5 * HOUR).toISOString()]), ['new', 'mid']);
    assert.deepEqual(await ids(['--host', 'b']), ['mid']);
    assert.deepEqual(await ids(['--host', 'a,b']), ['new', 'mid', 'old']);
    assert.deepEqual(await ids(['--host', 'a', '--host', 'b', '--since', '150m']), ['new', 'mid']);
  });

  test('a bad filter is a usage error naming it; more matches than --limit are said on stderr', async () => {
    for (const [args, message] of [
      [['--since', 'yesterday'], /--since takes an age \(24h, 7d\) or an ISO 8601 time/],
      [['--since', '1'], /--since takes an age/],
      [['--limit', '0'], /--limit takes a whole number from 1 to 10000/],
      [['--state', 'done'], /--state "done" is not one of open, updated, closed/],
      [['--environment', 'prod'], /--environment "prod" is not one of ci, staging, production, development, unknown/],
    ] as const) {
      const r = await runMain(['detections', 'list', ...args, '--store', store], {}, dir);
      assert.equal(r.code, 64, args.join(' '));
      assert.match(r.stderr, message);
    }
    const r = await runMain(['detections', 'list', '--limit', '2', '--store', store], {}, dir);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim().split('\n').length, 3, 'a header and two lines');
    assert.match(r.stderr, /more detections match than the 2 shown/);
  });

  test('the store from TRIPLINE_STORE; TRIPLINE_STORE=off is an error that says how to name one', async () => {
    assert.deepEqual(await ids([], { TRIPLINE_STORE: store }), ['new', 'mid', 'old']);
    const r = await runMain(['detections', 'list'], { TRIPLINE_STORE: 'off' }, dir);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /no detection store \(TRIPLINE_STORE turns it off\); give --store PATH/);
  });
});

describe('detections export, stats, prune', () => {
  test('export writes JSON Lines oldest first, SARIF and JUnit through their writers', async () => {
    const out = join(dir, 'out.jsonl');
    const r = await runMain(['detections', 'export', '--format', 'jsonl', '--output', out, '--store', store], {}, dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as Detection).id), ['old', 'mid', 'new']);
    const sarif = await runMain(['detections', 'export', '--format', 'sarif', '--host', 'a', '--store', store], {}, dir);
    const log = JSON.parse(sarif.stdout) as { runs: { results: unknown[] }[] };
    assert.equal(log.runs[0]?.results.length, 2);
    const junit = await runMain(['detections', 'export', '--format', 'junit', '--store', store], {}, dir);
    assert.match(junit.stdout, /<testsuites name="tripline" tests="\d+" failures="3"/);
    const none = await runMain(['detections', 'export', '--store', store], {}, dir);
    assert.equal(none.code, 64);
    assert.match(none.stderr, /--format is needed: jsonl, sarif or junit/);
  });

  test('stats counts per host; prune needs a rule, takes ages and sizes, and removes what is older', async () => {
    const stats = await runMain(['detections', 'stats', '--json', '--store', store], {}, dir);
    assert.deepEqual((JSON.parse(stats.stdout) as { byHost: Record<string, number> }).byHost, { a: 2, b: 1 });
    const bare = await runMain(['detections', 'prune', '--store', store], {}, dir);
    assert.equal(bare.code, 64);
    assert.match(bare.stderr, /say what to remove/);
    const badSize = await runMain(['detections', 'prune', '--max-size', 'lots', '--store', store], {}, dir);
    assert.match(badSize.stderr, /--max-size takes a size \(512MiB, 2GB, 1048576\), not "lots"/);
    // Recorded just now: nothing is older than a day.
    const kept = await runMain(['detections', 'prune', '--older-than', '1d', '--store', store], {}, dir);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /^removed 0 detection\(s\)/);
    const capped = await runMain(['detections', 'prune', '--max-size', '1', '--store', store], {}, dir);
    assert.equal(capped.code, 0, capped.stderr);
    assert.match(capped.stdout, /^removed 3 detection\(s\) \(3 revision\(s\)\)/);
    assert.deepEqual(await ids([]), []);
  });
});
