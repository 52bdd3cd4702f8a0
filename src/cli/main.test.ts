// The command line's one catch: what it prints about bad arguments and bad input files.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { main } from './main.ts';

/** What a terminal or the GitHub log viewer would obey (C0 but LF, DEL, C1, bidi controls). */
// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

interface Captured {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

async function runMain(argv: readonly string[], cwd: string): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): NodeJS.WriteStream => ({ write: (chunk: unknown) => { add(String(chunk)); return true; }, columns: 0, isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: {}, cwd });
  return { stdout, stderr, code };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-main-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void describe('main: text from argv and files reaches stderr escaped', () => {
  void test('a usage error quoting argv', () => withDir(async (dir) => {
    for (const argv of [['run', '--bogus\u001b[31m\u0000\r\u202E', '--', 'true'], ['watch', '--x\u001b[2J'], ['b\u001b[2Jogus\u202E'], ['report', '--fail-on', 'x\u001b]0;t\u0007']]) {
      const r = await runMain(argv, dir);
      assert.equal(r.code, 64, r.stderr);
      assert.ok(!RAW.test(r.stderr), JSON.stringify(r.stderr));
      assert.match(r.stderr, /\\x1b/, r.stderr);
    }
  }));

  void test('report: a JSONL line and a file name with ESC[2J, NUL, CR and U+202E', () => withDir(async (dir) => {
    const file = join(dir, 'evil\u001b[2J\u202E.jsonl');
    writeFileSync(file, 'x\u001b[2J\u0000\r\u202E{"a":1}\n');
    const r = await runMain(['report', file], dir);
    assert.equal(r.code, 64, r.stderr);
    assert.match(r.stderr, /evil\\x1b\[2J\\u202e\.jsonl:1: not JSON/);
    assert.ok(!RAW.test(r.stderr), JSON.stringify(r.stderr));
  }));

  void test('a recipe file whose name and content hold control characters', () => withDir(async (dir) => {
    const file = join(dir, 'r\u001b[2J\u202E.yaml');
    writeFileSync(file, 'id: x\nna\u001b[31mme\u202E: 1\n\u0000\r: 2\n');
    const r = await runMain(['recipes', 'validate', file], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /r\\x1b\[2J\\u202e\.yaml:/);
    assert.match(r.stderr, /unknown key "na\\x1b\[31mme\\u202e"/);
    assert.ok(!RAW.test(r.stderr), JSON.stringify(r.stderr));
  }));
});
