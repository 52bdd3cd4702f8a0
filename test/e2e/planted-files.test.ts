// End to end: nothing another local user plants can be used against tripline running as root.
// Output paths that are symlinks planted in a shared sticky directory are refused (the file
// they point at is untouched).

import assert from 'node:assert/strict';
import { chmodSync, lchownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.ts';
import { IS_ROOT, runCli, TEST_TIMEOUT, withTempDir } from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT };
const NOBODY = 65534;
const rootOnly = IS_ROOT ? false : 'needs root: the attack is against root, and the planted files belong to another user (chown)';

/** A sticky world-writable directory like /tmp inside `dir`. */
function sharedDir(dir: string): string {
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  return shared;
}

void describe('planted files, end to end', () => {
  for (const [kind, args] of [
    ['--jsonl', (f: string) => ['--jsonl', f]],
    ['--output sarif=', (f: string) => ['--output', `sarif=${f}`]],
    ['--output junit=', (f: string) => ['--output', `junit=${f}`]],
  ] as const) {
    void test(`${kind}: a symlink another user planted in a sticky directory is refused, its target untouched`, { ...opts, skip: rootOnly }, () => withTempDir(async (dir) => {
      const victim = join(dir, 'victim');
      writeFileSync(victim, 'root:precious\n');
      const link = join(sharedDir(dir), 'out');
      symlinkSync(victim, link);
      lchownSync(link, NOBODY, NOBODY);
      const r = await runCli(['run', ...args(link), '--', 'true'], { cwd: dir });
      assert.equal(r.exitCode, EXIT.usage, `exit ${String(r.exitCode)}; stderr:\n${r.stderr}`);
      assert.ok(r.stderr.includes(`refusing to write ${link}`), r.stderr);
      assert.match(r.stderr, /symbolic link/);
      assert.equal(readFileSync(victim, 'utf8'), 'root:precious\n');
    }));
  }
});
