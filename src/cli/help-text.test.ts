// Every command and subcommand answers --help and -h on stdout with exit 0, with the text kept
// in test/golden/help/ (UPDATE_GOLDEN=1 rewrites them; review the diff before committing).

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { PACKAGE_ROOT } from '../model/tripline-project.ts';
import { main } from './main.ts';

interface Captured {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export async function runMain(argv: readonly string[], env: NodeJS.ProcessEnv = {}, cwd = '/'): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void): NodeJS.WriteStream => ({ write: (chunk: unknown) => { add(String(chunk)); return true; }, columns: 0, isTTY: false }) as unknown as NodeJS.WriteStream;
  const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, cwd });
  return { stdout, stderr, code };
}

const GOLDEN = new URL('../../test/golden/help/', import.meta.url);

/** Each help, by golden file name, and the command lines that must print it. */
const HELPS: readonly [string, readonly (readonly string[])[]][] = [
  ['main', [['--help'], ['-h'], ['help']]],
  ['run', [['run', '--help'], ['run', '-h'], ['help', 'run'], ['run', '--quiet', '--help']]],
  ['watch', [['watch', '--help'], ['watch', '-h'], ['help', 'watch']]],
  ['demo', [['demo', '--help'], ['demo', '-h']]],
  ['recipes', [['recipes', '--help'], ['recipes', '-h'], ['recipes', 'help']]],
  ['recipes-list', [['recipes', 'list', '--help'], ['recipes', 'list', '-h']]],
  ['recipes-show', [['recipes', 'show', '--help'], ['recipes', 'show', 'os_network_fingerprint', '-h']]],
  ['recipes-validate', [['recipes', 'validate', '--help'], ['recipes', 'validate', '-h']]],
  ['recipes-explain', [['recipes', 'explain', '--help'], ['recipes', 'explain', 'os_network_fingerprint', '--help']]],
  ['config', [['config', '--help'], ['config', 'show', '--help'], ['config', 'show', '-h']]],
  ['report', [['report', '--help'], ['report', '-h']]],
  ['detections', [['detections', '--help'], ['detections', '-h'], ['help', 'detections'], ['detections', 'list', '--help'], ['detections', 'prune', '-h']]],
  ['serve', [['serve', '--help'], ['serve', '-h'], ['help', 'serve'], ['serve', '--port', '0', '--help']]],
  ['completion', [['completion', '--help'], ['completion', '-h']]],
];

void describe('help', () => {
  for (const [name, lines] of HELPS) {
    void test(`${name}: on stdout, exit 0, nothing else done (golden)`, async () => {
      for (const argv of lines) {
        const r = await runMain(argv);
        assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
        assert.equal(r.stderr, '', argv.join(' '));
        // The recipe format's documentation is named as installed: not part of the golden text.
        const text = r.stdout.replaceAll(PACKAGE_ROOT, '<package>/');
        const file = new URL(`${name}.txt`, GOLDEN);
        if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, text);
        assert.equal(text, readFileSync(file, 'utf8'), `${argv.join(' ')} differs from help/${name}.txt (UPDATE_GOLDEN=1 to accept)`);
      }
    });
  }

  void test('--version, -V, -v and version print the version on stdout', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const argv of [['--version'], ['-V'], ['-v'], ['version']]) {
      const r = await runMain(argv);
      assert.deepEqual(r, { stdout: `tripline ${pkg.version}\n`, stderr: '', code: 0 }, argv.join(' '));
    }
  });

  void test('no command at all is a usage error: the help on stderr, exit 64', async () => {
    const r = await runMain([]);
    assert.equal(r.code, 64);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^tripline — /);
  });
});
