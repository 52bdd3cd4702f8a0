// End to end: `tripline watch` with its JSONL file on a disk that is full (a small tmpfs,
// filled up). Writes fail; the output is not turned off: what it could not write is kept,
// retried with backoff and written once there is room, and what never got written is named
// and counted in the stop summary. SIGHUP after a rotation starts a fresh file at the path.
// Needs root (bpftrace, and mounting the tmpfs).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NET, parseJsonl, REPO_DIR, THREE_FILES, withTempDir } from '../e2e/run-tripline.ts';
import { ATTACH_MS, startWatch, type WatchProcess } from './watch-process.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();

/** Mounts a 1 MiB tmpfs at `dir/disk` and fills it; returns the mount point. */
function fullDisk(dir: string): string {
  const mount = join(dir, 'disk');
  mkdirSync(mount);
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mount], { encoding: 'utf8' });
  assert.equal(m.status, 0, `mount: ${m.stderr}`);
  // dd stops at ENOSPC (and says so): the disk is full afterwards.
  spawnSync('dd', ['if=/dev/zero', `of=${join(mount, 'filler')}`, 'bs=64k', 'count=64'], { stdio: 'ignore' });
  return mount;
}

/** Unmounts once `watch` (which holds a file there) has ended; lazily if something still holds it. */
async function unmount(mount: string, watch: WatchProcess | undefined): Promise<void> {
  await watch?.exited;
  if (spawnSync('umount', [mount], { stdio: 'ignore' }).status !== 0) spawnSync('umount', ['-l', mount], { stdio: 'ignore' });
}

/** Starts `tripline watch ARGS` and resolves once it watches. */
async function startWatching(args: readonly string[]): Promise<WatchProcess> {
  const watch = startWatch(args);
  await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
  return watch;
}

/** Waits until the JSONL file holds the final (closed) revision of a detection of `pid`. */
async function waitForDetection(path: string, pid: number | undefined, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(existsSync(path) && parseJsonl(readFileSync(path, 'utf8')).some((d) => d.subject.process.pid === pid && d.state === 'closed'))) {
    if (Date.now() > deadline) throw new Error(`no detection of pid ${String(pid)} in ${path} within ${String(ms)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

void test('watch --jsonl on a full disk: the output is not turned off, and the stop summary names it and counts what was not written', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  const mount = fullDisk(dir);
  const jsonl = join(mount, 'watch.jsonl');
  let watch: WatchProcess | undefined;
  try {
    watch = await startWatching(['--jsonl', jsonl]);
    try {
      const pids = [spawnSync('sysctl', ['-a'], { stdio: 'ignore' }).pid, spawnSync('sysctl', ['net'], { stdio: 'ignore' }).pid];
      for (const pid of pids) await watch.waitFor(new RegExp(`pid ${String(pid)} sysctl`), 10_000);
    } finally {
      watch.child.kill('SIGINT');
    }
    // Decided: a daemon that stops still exits 0; the loss is in warnings and in the last line.
    assert.equal(await watch.exited, 0, watch.stderr());
    const stderr = watch.stderr();
    const name = escape(`jsonl ${jsonl}`);
    assert.match(stderr, new RegExp(`tripline: warning: output ${name} failed: ENOSPC`));
    assert.doesNotMatch(stderr, /turned off|output \?/);
    const summary = new RegExp(`tripline: stopped; (\\d+) detection\\(s\\), (\\d+) not written to ${name}`).exec(stderr);
    assert.ok(summary !== null, stderr);
    assert.ok(Number(summary[2]) >= 2, 'both sysctl detections are counted');
    assert.equal(summary[2], summary[1], 'every detection was final while the disk was full');
    assert.match(stderr, new RegExp(`tripline: warning: output ${name}: ${summary[2] ?? ''} detection\\(s\\) not written(?:, \\d+ open revision\\(s\\) not written)?(?:, \\d+ revision\\(s\\) of open detections not written)? after \\d+ failed attempt\\(s\\) \\(last error: ENOSPC`));
  } finally {
    await unmount(mount, watch);
  }
}));

void test('watch: a disk full for a while loses nothing; after a rotation, SIGHUP starts a fresh file', { skip: reason ?? false, timeout: 300_000 }, () => withTempDir(async (dir) => {
  // The built-in recipe with 1 s windows, so detections are final (written) within seconds.
  const builtin = readFileSync(join(REPO_DIR, 'recipes/builtin/os_network_fingerprint.yaml'), 'utf8');
  mkdirSync(join(dir, 'recipes'));
  writeFileSync(join(dir, 'recipes', 'short.yaml'), builtin.replace(/^id: os_network_fingerprint$/m, 'id: short_windows').replace(/window: \d+s/g, 'window: 1s'));
  const config = join(dir, 'tripline.yaml');
  writeFileSync(config, 'recipes:\n  disabled: [os_network_fingerprint]\n  directories: [recipes]\n');
  const mount = fullDisk(dir);
  const jsonl = join(mount, 'watch.jsonl');
  let watch: WatchProcess | undefined;
  try {
    watch = await startWatching(['--quiet', '--config', config, '--jsonl', jsonl]);
    let first: number | undefined;
    let second: number | undefined;
    try {
      // One cat of three areas, not sysctl -a: with this recipe's 1 s windows, a sysctl -a that a
      // loaded machine stalls for over a second is two detections, the second after the rotation.
      first = spawnSync('cat', THREE_FILES.map((f) => `${NET}/${f}`), { stdio: 'ignore' }).pid;
      await watch.waitFor(/output jsonl \S+ failed: ENOSPC[^\n]*retried in 1 s/, 15_000);
      rmSync(join(mount, 'filler'));
      await watch.waitFor(/output jsonl \S+ works again after \d+ failed attempts?: \d+ detections? written late/, 15_000);
      await waitForDetection(jsonl, first, 5_000);
      // logrotate's way: rename, then SIGHUP.
      renameSync(jsonl, `${jsonl}.1`);
      watch.child.kill('SIGHUP');
      await watch.waitFor(/tripline: reloaded/, 10_000);
      second = spawnSync('cat', THREE_FILES.map((f) => `${NET}/${f}`), { stdio: 'ignore' }).pid;
      await waitForDetection(jsonl, second, 15_000);
    } finally {
      watch.child.kill('SIGINT');
    }
    assert.equal(await watch.exited, 0, watch.stderr());
    assert.doesNotMatch(watch.stderr(), /not written/, 'nothing was lost');
    const rotated = parseJsonl(readFileSync(`${jsonl}.1`, 'utf8')).map((d) => d.subject.process.pid);
    const fresh = parseJsonl(readFileSync(jsonl, 'utf8')).map((d) => d.subject.process.pid);
    assert.ok(rotated.includes(first), 'written late, into the file of that time');
    assert.ok(!fresh.includes(first));
    assert.ok(fresh.includes(second), 'the new file at the configured path');
    assert.ok(!rotated.includes(second));
  } finally {
    await unmount(mount, watch);
  }
}));
