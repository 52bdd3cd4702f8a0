// The command line's one catch: what it prints about bad arguments and bad input files.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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

async function runMain(argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): NodeJS.WriteStream => ({ write: (chunk: unknown) => { add(String(chunk)); return true; }, columns: 0, isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, cwd });
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

void describe('main: every command rejects what it does not know, in one style', () => {
  void test('an unknown option is an error everywhere, with a near-miss suggested', () => withDir(async (dir) => {
    const lines: readonly (readonly string[])[] = [
      ['run', '--bogus', '--', 'true'], ['watch', '--bogus'], ['demo', '--bogus'], ['recipes', 'list', '--bogus'], ['recipes', 'show', 'x', '--bogus'],
      ['recipes', 'validate', '--bogus'], ['recipes', 'explain', 'os_network_fingerprint', '--bogus', '--', 'true'], ['config', 'show', '--bogus'],
      ['report', '--bogus', 'f.jsonl'], ['completion', '--bogus'],
    ];
    for (const argv of lines) {
      const r = await runMain(argv, dir);
      assert.equal(r.code, 64, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^tripline: [a-z ]+: unknown option --bogus; see tripline [a-z ]+ --help\n$/, argv.join(' '));
      assert.equal(r.stdout, '');
    }
    const near = await runMain(['watch', '--jsnol', 'x'], dir);
    assert.match(near.stderr, /unknown option --jsnol \(did you mean --jsonl\?\)/);
    const command = await runMain(['rnu'], dir);
    assert.match(command.stderr, /unknown command "rnu" \(did you mean run\?\)/);
  }));

  void test('run --jsonl -- true is an error and writes no file named "--"', () => withDir(async (dir) => {
    const r = await runMain(['run', '--jsonl', '--', 'true'], dir);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /run: --jsonl needs a value/);
    assert.equal(readdirSync(dir).length, 0);
  }));

  void test('recipes show --help and recipes validate --help are help, not a recipe id or a file', () => withDir(async (dir) => {
    const show = await runMain(['recipes', 'show', '--help'], dir);
    assert.equal(show.code, 0);
    assert.doesNotMatch(show.stderr + show.stdout, /no recipe/);
    const validate = await runMain(['recipes', 'validate', '--help'], dir);
    assert.equal(validate.code, 0);
    assert.doesNotMatch(validate.stderr + validate.stdout, /--help: /);
  }));
});

void describe('main: --json for scripts', () => {
  void test('recipes list --json', () => withDir(async (dir) => {
    const r = await runMain(['recipes', 'list', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { id: string; enabled: boolean; importance: string; technique: { id: string }; exceptions: number; source: string }[];
    const builtin = list.find((x) => x.id === 'os_network_fingerprint');
    assert.ok(builtin !== undefined);
    assert.equal(builtin.enabled, true);
    assert.equal(builtin.importance, 'low');
    assert.equal(builtin.technique.id, 'T1082');
    assert.match(builtin.source, /^builtin:/);
  }));

  void test('recipes show ID --json: the recipe file\'s keys, with where each exception came from', () => withDir(async (dir) => {
    const r = await runMain(['recipes', 'show', 'os_network_fingerprint', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const recipe = JSON.parse(r.stdout) as { id: string; match: { roots: string[] }; aggregate: { threshold: number }; exceptions: { name: string; origin: string }[] };
    assert.equal(recipe.id, 'os_network_fingerprint');
    assert.deepEqual(recipe.match.roots, ['/proc/sys/net']);
    assert.ok(recipe.aggregate.threshold >= 2);
    assert.ok(recipe.exceptions.every((e) => typeof e.origin === 'string' && e.origin !== ''));
  }));

  void test('config show --json: each value with its source', () => withDir(async (dir) => {
    writeFileSync(join(dir, 'tripline.yaml'), 'environment: staging\n');
    const r = await runMain(['config', 'show', '--json'], dir, { TRIPLINE_FAIL_ON: 'medium' });
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as { file: string; environment: { value: string; source: string }; failOn: { value: string; source: string }; recipes: { running: { id: string }[] } };
    assert.equal(c.file, join(dir, 'tripline.yaml'));
    assert.equal(c.environment.value, 'staging');
    assert.match(c.environment.source, /tripline\.yaml:1:/);
    assert.deepEqual(c.failOn, { value: 'medium', source: 'TRIPLINE_FAIL_ON' });
    assert.ok(c.recipes.running.some((x) => x.id === 'os_network_fingerprint'));
  }));
});
