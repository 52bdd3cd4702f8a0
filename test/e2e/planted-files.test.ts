// End to end: nothing another local user plants can be used against tripline running as root.
// Output paths that are symlinks planted in a shared sticky directory are refused (the file
// they point at is untouched); a tripline.yaml another user planted in the working directory
// is refused, not obeyed; a strace, bpftrace, mkfifo or mount in the working directory is
// never run, whatever PATH says.

import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../../src/cli/exit-codes.ts';
import { cleanEnv, describeRun, IS_ROOT, NET, runCli, runTripline, TEST_TIMEOUT, THREE_FILES, withTempDir } from './run-tripline.ts';

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

  void test('a tripline.yaml another user planted in a shared working directory is refused (78), not obeyed; root\'s own is obeyed', { ...opts, skip: rootOnly }, () => withTempDir(async (dir) => {
    const shared = sharedDir(dir);
    const config = join(shared, 'tripline.yaml');
    // Silences everything: what an attacker would plant where a root job runs.
    writeFileSync(config, 'exceptions:\n  - name: planted\n    reason: silence everything\n    exe: "/**"\n');
    chownSync(config, NOBODY, NOBODY);
    const cats = ['sh', '-c', `cat ${THREE_FILES.map((f) => `${NET}/${f}`).join(' ')} > /dev/null`];
    const refused = await runCli(['run', '--', ...cats], { cwd: shared });
    assert.equal(refused.exitCode, EXIT.config, `exit ${String(refused.exitCode)}; stderr:\n${refused.stderr}`);
    assert.ok(refused.stderr.includes(`refusing to use ${config}: ${config} belongs to uid 65534, not to root`), refused.stderr);
    assert.ok(refused.stderr.includes(`fix: chown root ${config} && chmod go-w ${config}`), refused.stderr);
    assert.doesNotMatch(refused.stderr, /applied to/);
    // Root's own 0644 file in the same directory is obeyed.
    chownSync(config, 0, 0);
    chmodSync(config, 0o644);
    const r = await runTripline(cats, { dir: shared });
    assert.equal(r.exitCode, 0, describeRun(r));
    assert.equal(r.detections.length, 0, describeRun(r));
    assert.match(r.stderr, /exception "[^"]*planted" applied to \d+ access/, describeRun(r));
  }));

  /** Fake sensor programs in `dir` that leave a marker file when run. */
  function plantPrograms(dir: string): void {
    for (const name of ['strace', 'bpftrace', 'mkfifo', 'mount']) {
      // A shell redirection, not touch: with PATH gone the script could not find touch.
      writeFileSync(join(dir, name), `#!/bin/sh\n: > ${join(dir, `ran-${name}`)}\nexit 1\n`);
      chmodSync(join(dir, name), 0o755);
    }
  }

  function markers(dir: string): string[] {
    return readdirSync(dir).filter((f) => f.startsWith('ran-'));
  }

  for (const [what, path] of [['PATH unset', undefined], ['PATH=:', ':'], ['PATH=.', '.']] as const) {
    void test(`${what}: the ptrace sensor never runs a strace or mkfifo from the working directory`, opts, () => withTempDir(async (dir) => {
      plantPrograms(dir);
      const r = await runCli(['run', '--sensor', 'ptrace', '--', '/bin/true'], { cwd: dir, env: cleanEnv({ PATH: path }) });
      assert.deepEqual(markers(dir), [], `a planted program ran; stderr:\n${r.stderr}`);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, /strace \d/);
    }));
  }

  const bpftrace = ['/usr/sbin/bpftrace', '/usr/bin/bpftrace'].some((p) => existsSync(p));
  void test('PATH unset: the eBPF sensor never runs a bpftrace or mount from the working directory', {
    timeout: TEST_TIMEOUT * 3, skip: rootOnly || (bpftrace ? false : 'bpftrace is not installed'),
  }, () => withTempDir(async (dir) => {
    plantPrograms(dir);
    const r = await runCli(['run', '--sensor', 'ebpf', '--', '/bin/true'], { cwd: dir, env: cleanEnv({ PATH: undefined }), timeoutMs: 120_000 });
    assert.deepEqual(markers(dir), [], `a planted program ran; stderr:\n${r.stderr}`);
    assert.equal(r.exitCode, 0, r.stderr);
  }));
});
