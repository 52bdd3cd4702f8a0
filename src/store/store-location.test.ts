// Where the store lives and what is refused before SQLite opens it. The refusals that need
// another user's files run as root (as Tripline does on a host), with uid 65534 as "another user".

import assert from 'node:assert/strict';
import { chmodSync, chownSync, lchownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { openDetectionStore } from './sqlite-detection-store.ts';
import { checkStoreFile, defaultStorePath, ROOT_STORE_PATH } from './store-location.ts';

const AS_ROOT = { skip: process.geteuid?.() !== 0 ? 'needs root' : false } as const;
const NOBODY = 65534;

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tripline-store-loc-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('default location', () => {
  test('root: /var/lib/tripline/tripline.db, whatever XDG_STATE_HOME says', () => {
    assert.equal(defaultStorePath({ XDG_STATE_HOME: '/home/eve/state' }, 0, () => '/root'), ROOT_STORE_PATH);
  });

  test('another user: $XDG_STATE_HOME/tripline/tripline.db when absolute, else ~/.local/state', () => {
    assert.equal(defaultStorePath({ XDG_STATE_HOME: '/srv/state' }, 1000, () => '/home/ann'), '/srv/state/tripline/tripline.db');
    assert.equal(defaultStorePath({}, 1000, () => '/home/ann'), '/home/ann/.local/state/tripline/tripline.db');
    assert.equal(defaultStorePath({ XDG_STATE_HOME: 'relative/state' }, 1000, () => '/home/ann'), '/home/ann/.local/state/tripline/tripline.db', 'a relative XDG path is ignored (the spec says so)');
    assert.equal(defaultStorePath({ XDG_STATE_HOME: '' }, 1000, () => '/home/ann'), '/home/ann/.local/state/tripline/tripline.db');
  });
});

describe('creating', () => {
  test('missing directories are made 0700 and the file 0600, whatever the umask', () => {
    const old = process.umask(0);
    try {
      const path = join(dir, 'state', 'tripline', 'tripline.db');
      const s = openDetectionStore({ path, create: true });
      s.close();
      assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
      assert.equal(statSync(join(dir, 'state', 'tripline')).mode & 0o777, 0o700);
      assert.equal(statSync(path).mode & 0o777, 0o600);
    } finally {
      process.umask(old);
    }
  });

  test('an existing store of ours loses the permissions of group and others', () => {
    const path = join(dir, 'tripline.db');
    openDetectionStore({ path, create: true }).close();
    chmodSync(path, 0o644);
    openDetectionStore({ path, create: false }).close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });

  test('an absent store is not created by a reader', () => {
    const path = join(dir, 'none', 'tripline.db');
    assert.throws(() => checkStoreFile(path, false), /detection store .*none\/tripline\.db: no store there/);
    assert.throws(() => lstatSync(join(dir, 'none')));
  });
});

describe('refused', () => {
  test('a symlink at the database name, even to a file of ours, and its target is left alone', () => {
    const target = join(dir, 'precious');
    writeFileSync(target, 'keep me');
    const path = join(dir, 'tripline.db');
    symlinkSync(target, path);
    assert.throws(() => openDetectionStore({ path, create: true }), /tripline\.db is a symbolic link; the store is never opened through one/);
    assert.equal(readFileSync(target, 'utf8'), 'keep me');
  });

  test('a symlink planted as the -wal or -shm file', () => {
    const path = join(dir, 'tripline.db');
    openDetectionStore({ path, create: true }).close();
    const target = join(dir, 'precious');
    writeFileSync(target, 'keep me');
    for (const suffix of ['-wal', '-shm']) {
      symlinkSync(target, path + suffix);
      assert.throws(() => openDetectionStore({ path, create: false }), new RegExp(`tripline\\.db${suffix} is a symbolic link`));
      rmSync(path + suffix);
    }
    assert.equal(readFileSync(target, 'utf8'), 'keep me');
  });

  test('a hard link at the database name', () => {
    const other = join(dir, 'other');
    writeFileSync(other, '');
    const path = join(dir, 'tripline.db');
    linkSync(other, path);
    assert.throws(() => openDetectionStore({ path, create: true }), /has 2 hard links/);
  });

  test('a store directory others can write', () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o775);
    assert.throws(() => openDetectionStore({ path: join(shared, 'tripline.db'), create: true }), /its directory .*shared can be written by others \(mode 0775\)/);
  });

  test('a store directory of another user, with the path in the message', AS_ROOT, () => {
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, NOBODY, NOBODY);
    assert.throws(() => openDetectionStore({ path: join(theirs, 'tripline.db'), create: true }), (e: Error) => {
      assert.match(e.message, new RegExp(`detection store ${theirs}/tripline\\.db: its path goes through ${theirs}, which belongs to uid 65534`));
      return true;
    });
  });

  test('a directory of another user higher on the path, though the store directory is ours', AS_ROOT, () => {
    // The owner of `theirs` could rename `ours` away and put a directory of their own there.
    const theirs = join(dir, 'theirs');
    mkdirSync(join(theirs, 'ours'), { recursive: true, mode: 0o700 });
    chownSync(theirs, NOBODY, NOBODY);
    assert.throws(() => openDetectionStore({ path: join(theirs, 'ours', 'tripline.db'), create: true }), new RegExp(`its path goes through ${theirs}, which belongs to uid 65534`));
  });

  test('a database or -wal file of another user', AS_ROOT, () => {
    const path = join(dir, 'tripline.db');
    openDetectionStore({ path, create: true }).close();
    chownSync(path, NOBODY, NOBODY);
    assert.throws(() => openDetectionStore({ path, create: false }), /tripline\.db belongs to uid 65534/);
    chownSync(path, 0, 0);
    writeFileSync(`${path}-wal`, '');
    chownSync(`${path}-wal`, NOBODY, NOBODY);
    assert.throws(() => openDetectionStore({ path, create: false }), /tripline\.db-wal belongs to uid 65534/);
  });

  test('a directory another user planted in a world-writable sticky directory (as /tmp), even one that looks private', AS_ROOT, () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    chmodSync(tmp, 0o1777);
    const planted = join(tmp, 'tripline');
    mkdirSync(planted, { mode: 0o700 });
    chownSync(planted, NOBODY, NOBODY);
    assert.throws(() => openDetectionStore({ path: join(planted, 'tripline.db'), create: true }), /tmp\/tripline belongs to uid 65534 and sits in the world-writable directory .*tmp/);
    // And a link planted there to a directory of ours.
    const ours = join(dir, 'ours');
    mkdirSync(ours, { mode: 0o700 });
    const link = join(tmp, 'link');
    symlinkSync(ours, link);
    lchownSync(link, NOBODY, NOBODY);
    assert.throws(() => openDetectionStore({ path: join(link, 'tripline.db'), create: true }), /tmp\/link belongs to uid 65534/);
    assert.throws(() => lstatSync(join(ours, 'tripline.db')), 'nothing was created through the link');
  });

  test('a world-writable directory without the sticky bit on the way', AS_ROOT, () => {
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    mkdirSync(join(open, 'mine'), { mode: 0o700 });
    assert.throws(() => openDetectionStore({ path: join(open, 'mine', 'tripline.db'), create: true }), /goes through .*open, which anyone can write and has no sticky bit/);
  });

  test('a name with control characters is escaped in the message', () => {
    const path = join(dir, 'evil\u001b]0;x\u0007', 'tripline.db');
    assert.throws(() => checkStoreFile(path, false), (e: Error) => {
      assert.ok(!e.message.includes('\u001b'), 'no raw escape character');
      assert.match(e.message, /evil\\x1b\]0;x\\x07/);
      return true;
    });
  });
});
