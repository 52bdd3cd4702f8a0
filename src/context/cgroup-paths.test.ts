import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cgroup2Mount, CgroupPaths, LIVE_CGROUP_FS, pathFromNames, type CgroupFs } from './cgroup-paths.ts';

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

/** A cgroup2 tree given as path -> inode. */
function fakeFs(tree: Map<string, bigint>, counts: { inode: number }): CgroupFs {
  return {
    mountinfo: () => HYBRID,
    inode: (path) => { counts.inode++; return tree.get(path); },
    subdirectories: (path) => {
      const prefix = path === '/' ? '/' : `${path}/`;
      return [...tree.keys()].filter((p) => p.startsWith(prefix) && p !== path && !p.slice(prefix.length).includes('/')).map((p) => p.slice(prefix.length));
    },
  };
}

describe('CgroupPaths', () => {
  const M = '/sys/fs/cgroup/unified';
  it('maps an id to its path by walking the mount once, walks again for a newer id, and at most once a second for an older one', () => {
    const tree = new Map<string, bigint>([[M, 1n], [`${M}/libpod_parent`, 25n], [`${M}/libpod_parent/libpod-abc`, 3787n]]);
    const counts = { inode: 0 };
    let now = 0;
    const paths = new CgroupPaths(fakeFs(tree, counts), () => now);
    assert.equal(paths.pathOf(3787n), '/libpod_parent/libpod-abc');
    assert.equal(paths.pathOf(1n), '/');
    assert.equal(paths.pathOf(25n), '/libpod_parent');
    assert.equal(paths.walks, 1);
    // A cgroup made since: a larger id, walked for at once.
    tree.set(`${M}/libpod_parent/libpod-def`, 3800n);
    assert.equal(paths.pathOf(3800n), '/libpod_parent/libpod-def');
    assert.equal(paths.walks, 2);
    // An older id no walk found was removed before it was asked about: not walked for again at once...
    assert.equal(paths.pathOf(3790n), undefined);
    assert.equal(paths.walks, 2);
    // ...but after a second (a forgotten entry is found again).
    now = 1_000;
    assert.equal(paths.pathOf(3790n), undefined);
    assert.equal(paths.walks, 3);
  });

  it('learns a path\'s end from a record\'s names, one component each, never over a walked path, and peeks without walking', () => {
    const tree = new Map<string, bigint>([[M, 1n], [`${M}/docker`, 557n]]);
    const paths = new CgroupPaths(fakeFs(tree, { inode: 0 }), () => 0);
    assert.equal(paths.peek(557n), undefined);
    assert.equal(paths.walks, 0);
    assert.equal(paths.pathOf(4000n), undefined);
    const named = pathFromNames('libpod-abc', 'libpod_parent');
    assert.equal(named, '/libpod_parent/libpod-abc');
    assert.equal(paths.learn(4000n, named), '/libpod_parent/libpod-abc');
    assert.equal(paths.peek(4000n), '/libpod_parent/libpod-abc');
    assert.equal(paths.learn(557n, '/x/evil'), '/docker', 'a walked path stands');
    assert.equal(pathFromNames('a/b', 'p'), undefined);
    assert.equal(pathFromNames('..', 'p'), undefined);
    assert.equal(pathFromNames('', 'p'), undefined);
    assert.equal(pathFromNames('a\0b', 'p'), undefined);
    assert.equal(pathFromNames('leaf', '../x'), '/leaf', 'a bad parent name is left out');
    assert.equal(pathFromNames('leaf', ''), '/leaf');
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
      assert.deepEqual(LIVE_CGROUP_FS.subdirectories(dir), ['a']);
      assert.equal(LIVE_CGROUP_FS.inode(join(dir, 'a')), BigInt(statSync(join(dir, 'a')).ino));
      assert.equal(LIVE_CGROUP_FS.inode(join(dir, 'link')), undefined);
      assert.equal(LIVE_CGROUP_FS.inode(join(dir, 'missing')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
