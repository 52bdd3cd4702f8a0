import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cgroup2Mount, CgroupPaths, LIVE_CGROUP_FS, type CgroupFs } from './cgroup-paths.ts';

const HYBRID = [
  '25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
  '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
].join('\n');

describe('cgroup2Mount', () => {
  it('finds the unified hierarchy of a hybrid host, a pure v2 host, a namespaced subtree, and none on v1 only', () => {
    assert.deepEqual(cgroup2Mount(HYBRID), { mountPoint: '/sys/fs/cgroup/unified', root: '/' });
    assert.deepEqual(cgroup2Mount('30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw'), { mountPoint: '/sys/fs/cgroup', root: '/' });
    assert.deepEqual(cgroup2Mount('30 1 0:26 /kubepods.slice/x /sys/fs/cgroup\\040here rw - cgroup2 cgroup2 rw'), { mountPoint: '/sys/fs/cgroup here', root: '/kubepods.slice/x' });
    assert.equal(cgroup2Mount(HYBRID.split('\n').filter((l) => !l.includes('cgroup2')).join('\n')), undefined);
    // An optional field that says cgroup2 is not the file system type.
    assert.equal(cgroup2Mount('30 1 0:26 / /mnt rw master:cgroup2 - tmpfs tmpfs rw'), undefined);
  });
});

/** A cgroup2 tree given as path -> inode; each inode read costs `msPerInode` of the clock. */
function fakeFs(tree: Map<string, bigint>, counts: { inode: number; listed?: number }, clock?: { now: number; msPerInode: number }): CgroupFs {
  return {
    mountinfo: () => HYBRID,
    inode: (path) => { counts.inode++; if (clock) clock.now += clock.msPerInode; return tree.get(path); },
    subdirectories: (path, limit) => {
      const prefix = path === '/' ? '/' : `${path}/`;
      const names = [...tree.keys()].filter((p) => p.startsWith(prefix) && p !== path && !p.slice(prefix.length).includes('/')).map((p) => p.slice(prefix.length)).slice(0, limit);
      counts.listed = Math.max(counts.listed ?? 0, names.length);
      return names;
    },
  };
}

describe('CgroupPaths', () => {
  const M = '/sys/fs/cgroup/unified';
  it('maps an id to its path by walking the mount, at most 4 times a second however new the ids asked about', () => {
    const tree = new Map<string, bigint>([[M, 1n], [`${M}/libpod_parent`, 25n], [`${M}/libpod_parent/libpod-abc`, 3787n]]);
    const counts = { inode: 0 };
    let now = 0;
    const paths = new CgroupPaths(fakeFs(tree, counts), () => now);
    assert.equal(paths.pathOf(3787n), '/libpod_parent/libpod-abc');
    assert.equal(paths.pathOf(1n), '/');
    assert.equal(paths.pathOf(25n), '/libpod_parent');
    assert.equal(paths.walks, 1);
    // A cgroup made since has a larger id: not walked for before 250 ms have passed...
    tree.set(`${M}/libpod_parent/libpod-def`, 3800n);
    assert.equal(paths.pathOf(3800n), undefined);
    assert.equal(paths.walks, 1);
    // ...then found.
    now = 250;
    assert.equal(paths.pathOf(3800n), '/libpod_parent/libpod-def');
    assert.equal(paths.walks, 2);
  });

  it('many new cgroup ids (anyone can make cgroups) cost at most 4 walks a second, and a slow walk spaces the next 20 times its duration', () => {
    // 2,000 cgroups, each inode read costing 0.25 ms of the clock: a walk takes 500 ms.
    const tree = new Map<string, bigint>([[M, 1n]]);
    for (let i = 0; i < 2_000; i++) tree.set(`${M}/u${String(i)}`, BigInt(100 + i));
    const clock = { now: 0, msPerInode: 0.25 };
    const paths = new CgroupPaths(fakeFs(tree, { inode: 0 }, clock), () => clock.now);
    let next = 1_000_000n;
    // Ten seconds of a new cgroup id every millisecond.
    for (let t = 0; t < 10_000; t++) {
      clock.now = Math.max(clock.now, t);
      paths.pathOf(next++);
    }
    // The first walk at 0 took 500 ms: the next is due 10 s after it ended (20 x 500 ms).
    assert.equal(paths.walks, 1);
    clock.now = 10_400;
    paths.pathOf(next++);
    assert.equal(paths.walks, 1);
    clock.now = 10_600;
    paths.pathOf(next++);
    assert.equal(paths.walks, 2);
    // A fast walk (nothing costs time): the next one 250 ms later, not sooner.
    const fast = new CgroupPaths(fakeFs(tree, { inode: 0 }), () => clock.now);
    clock.now = 0;
    for (let t = 0; t < 5_000; t++) { clock.now = t; fast.pathOf(next++); }
    assert.equal(fast.walks, 20);
  });

  it('a walk visits and queues at most its limit of directories (a wide tree does not grow its queue past it)', () => {
    const tree = new Map<string, bigint>([[M, 1n]]);
    for (let i = 0; i < 20_000; i++) tree.set(`${M}/w${String(i)}`, BigInt(10 + i));
    const counts = { inode: 0, listed: 0 };
    const paths = new CgroupPaths(fakeFs(tree, counts), () => 0);
    paths.pathOf(5n);
    assert.equal(paths.walks, 1);
    assert.ok(counts.inode <= 16_384, `visited ${String(counts.inode)}`);
    assert.ok(counts.listed < 16_384, `listed ${String(counts.listed)}`);
    // The last directories visited are remembered (the cache keeps the newest 8,192); the rest were never queued.
    assert.equal(paths.peek(10n + 16_382n), '/w16382');
    assert.equal(paths.peek(10n + 16_383n), undefined);
  });

  it('walks only where a runtime puts containers: a user\'s subtree with thousands of cgroups is never listed', () => {
    const hex = 'e'.repeat(64);
    const tree = new Map<string, bigint>([
      [M, 1n], [`${M}/user.slice`, 2n], [`${M}/user.slice/user-1000.slice`, 3n], [`${M}/libpod_parent`, 4n],
      [`${M}/libpod_parent/libpod-${hex}`, 5n], [`${M}/libpod_parent/libpod-${hex}/sub`, 6n], [`${M}/libpod_parent/libpod-${hex}/sub/deeper`, 7n],
      [`${M}/user.slice/user-1000.slice/libpod-${hex}`, 8n],
    ]);
    for (let i = 0; i < 3_000; i++) tree.set(`${M}/user.slice/user-1000.slice/u${String(i)}`, BigInt(100 + i));
    const listed: string[] = [];
    const fs = fakeFs(tree, { inode: 0 });
    const paths = new CgroupPaths({ ...fs, subdirectories: (path, limit) => { listed.push(path); return fs.subdirectories(path, limit); } }, () => 0);
    assert.equal(paths.pathOf(5n), `/libpod_parent/libpod-${hex}`);
    assert.equal(paths.peek(6n), `/libpod_parent/libpod-${hex}/sub`, 'a container\'s sub-cgroup');
    assert.equal(paths.peek(7n), undefined);
    assert.equal(paths.peek(2n), '/user.slice', 'the root\'s children are visited');
    assert.equal(paths.peek(3n), undefined);
    assert.equal(paths.peek(8n), undefined);
    assert.deepEqual(listed.sort(), [M, `${M}/libpod_parent`, `${M}/libpod_parent/libpod-${hex}`]);
  });

  it('learns a whole path from a record\'s names, never over a walked path, and peeks without walking', () => {
    const tree = new Map<string, bigint>([[M, 1n], [`${M}/docker`, 557n]]);
    const paths = new CgroupPaths(fakeFs(tree, { inode: 0 }), () => 0);
    assert.equal(paths.peek(557n), undefined);
    assert.equal(paths.walks, 0);
    assert.equal(paths.pathOf(4000n), undefined);
    assert.equal(paths.learn(4000n, '/libpod_parent/libpod-abc'), '/libpod_parent/libpod-abc');
    assert.equal(paths.peek(4000n), '/libpod_parent/libpod-abc');
    assert.equal(paths.learn(557n, '/x/evil'), '/docker', 'a walked path stands');
  });

  it('without a cgroup2 mount maps nothing', () => {
    const paths = new CgroupPaths({ mountinfo: () => '', inode: () => 1n, subdirectories: () => [] });
    assert.equal(paths.pathOf(1n), undefined);
    assert.equal(paths.walks, 0);
  });

  it('the live file system: directories and their inodes, links not followed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripline-cgroup-'));
    try {
      mkdirSync(join(dir, 'a'));
      symlinkSync(join(dir, 'a'), join(dir, 'link'));
      assert.deepEqual(LIVE_CGROUP_FS.subdirectories(dir, 10), ['a']);
      mkdirSync(join(dir, 'b'));
      assert.equal(LIVE_CGROUP_FS.subdirectories(dir, 1)?.length, 1, 'at most the limit');
      assert.equal(LIVE_CGROUP_FS.inode(join(dir, 'a')), BigInt(statSync(join(dir, 'a')).ino));
      assert.equal(LIVE_CGROUP_FS.inode(join(dir, 'link')), undefined);
      assert.equal(LIVE_CGROUP_FS.inode(join(dir, 'missing')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
