// End to end: text from argv and from input files reaches stderr of the real CLI with every
// control character shown as an escape (a terminal would obey ESC, CR and bidi overrides).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, TEST_TIMEOUT, withTempDir } from './run-tripline.ts';

// eslint-disable-next-line no-control-regex
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

void describe('escaping, end to end', () => {
  void test('tripline report on a crafted file prints no raw control byte', { timeout: TEST_TIMEOUT }, () => withTempDir(async (dir) => {
    const file = join(dir, 'crafted\u001b[2J.jsonl');
    writeFileSync(file, 'x\u001b[2J\u0000\r\u202E{"a":1}\n{"schema":"tripline.detection/v1","\u001b[31m":"\u202E"}\n');
    const r = await runCli(['report', file], { cwd: dir });
    assert.equal(r.exitCode, 64, r.stderr);
    assert.match(r.stderr, /crafted\\x1b\[2J\.jsonl:1: not JSON/);
    assert.ok(!RAW.test(r.stderr), JSON.stringify(r.stderr));
  }));

  void test("tripline run --bogus$'\\e'[31m prints no raw control byte", { timeout: TEST_TIMEOUT }, () => withTempDir(async (dir) => {
    const r = await runCli(['run', '--bogus\u001b[31m\u202E', '--', 'true'], { cwd: dir });
    assert.equal(r.exitCode, 64, r.stderr);
    assert.match(r.stderr, /--bogus\\x1b\[31m\\u202e/);
    assert.ok(!RAW.test(r.stderr), JSON.stringify(r.stderr));
  }));
});
