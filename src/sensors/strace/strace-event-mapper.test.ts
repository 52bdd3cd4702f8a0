import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapStraceRecord } from './strace-event-mapper.ts';
import { StraceLineParser } from './strace-line-parser.ts';

function map(line: string) {
  const rec = new StraceLineParser().parse(line);
  if (rec === undefined || rec.type === 'unparsed') assert.fail(`did not parse: ${line}`);
  return mapStraceRecord(rec);
}

test('open flags decide the action: read, read-write (counts), write (evidence), O_PATH (a stat)', () => {
  const action = (flags: string) => {
    const e = map(`1  1.000001 openat(AT_FDCWD</>, "/proc/sys/net/core/somaxconn", ${flags}) = 3</proc/sys/net/core/somaxconn>`);
    return e?.kind === 'access' ? e.action : undefined;
  };
  assert.equal(action('O_RDONLY|O_CLOEXEC'), 'read');
  assert.equal(action('O_RDWR'), 'readwrite');
  assert.equal(action('O_WRONLY|O_TRUNC'), 'write');
  assert.equal(action('O_PATH'), 'stat');
});

test('a symlink is not followed only when a flag says so, not when the path spells NOFOLLOW', () => {
  const noFollow = (line: string) => {
    const e = map(line);
    return e?.kind === 'access' ? e.noFollow === true : undefined;
  };
  assert.equal(noFollow('1  1.000001 newfstatat(AT_FDCWD</>, "/tmp/NOFOLLOW1", {st_mode=S_IFDIR|0555, ...}, 0) = 0'), false);
  assert.equal(noFollow('1  1.000001 newfstatat(AT_FDCWD</>, "/tmp/x", {st_mode=S_IFLNK|0777, ...}, AT_SYMLINK_NOFOLLOW) = 0'), true);
  assert.equal(noFollow('1  1.000001 lstat("/tmp/x", {st_mode=S_IFLNK|0777, ...}) = 0'), true);
});

test('fstat of an fd (AT_EMPTY_PATH) is an access of the fd\'s path', () => {
  const e = map('1  1.000001 newfstatat(3</proc/sys/net/ipv4>, "", {st_mode=S_IFDIR|0555, st_size=0, ...}, AT_EMPTY_PATH) = 0');
  assert.equal(e?.kind === 'access' ? e.resolvedPath : undefined, '/proc/sys/net/ipv4');
  assert.equal(e?.kind === 'access' ? e.isDirectory : undefined, true);
});

test('mount, symlink and uid changes become events', () => {
  assert.deepEqual(map('1  1.000001 mount("proc", "/tmp/p", "proc", 0, NULL) = 0'), {
    kind: 'mount', timeMs: 1000.001, tid: 1, target: '/tmp/p', source: 'proc', fstype: 'proc', bind: false,
  });
  assert.equal(map('1  1.000001 symlinkat("/proc/sys/net", AT_FDCWD</tmp>, "n") = 0')?.kind, 'symlink');
  assert.deepEqual(map('1  1.000001 setresuid(-1, 1000, -1) = 0'), { kind: 'uid', timeMs: 1000.001, tid: 1, uid: 1000 });
});

test('leaving the mount namespace: unshare(CLONE_NEWNS), setns, clone with CLONE_NEWNS', () => {
  assert.deepEqual(map('7  1.000001 unshare(CLONE_NEWNS|CLONE_NEWUSER) = 0'), { kind: 'namespace', timeMs: 1000.001, tid: 7, mount: true, pidForChildren: false, joined: false });
  assert.equal(map('7  1.000001 unshare(CLONE_NEWNET) = 0'), undefined);
  assert.equal(map('7  1.000001 unshare(CLONE_NEWNS) = -1 EPERM (Operation not permitted)'), undefined);
  assert.equal(map('7  1.000001 setns(3</proc/1/ns/mnt>, CLONE_NEWNS) = 0')?.kind, 'namespace');
  assert.equal(map('7  1.000001 setns(3</proc/1/ns/mnt>, 0) = 0')?.kind, 'namespace');
  assert.deepEqual(map('7  1.000001 clone(child_stack=NULL, flags=CLONE_NEWNS|SIGCHLD) = 9'), {
    kind: 'fork', timeMs: 1000.001, parentTid: 7, childTid: 9, thread: false, sharesFs: false, newMountNamespace: true,
  });
});

test('statfs and fstatfs probe an area like a stat; open_by_handle_at is judged by the fd it returns', () => {
  const statfs = map('1  1.000001 statfs("/proc/sys/net/ipv4", {f_type=PROC_SUPER_MAGIC, f_bsize=4096, f_namelen=255, f_frsize=4096}) = 0');
  assert.equal(statfs?.kind === 'access' ? `${statfs.action} ${statfs.path ?? ''}` : undefined, 'stat /proc/sys/net/ipv4');
  const fstatfs = map('1  1.000001 fstatfs(3</proc/sys/net/core>, {f_type=PROC_SUPER_MAGIC, f_bsize=4096}) = 0');
  assert.equal(fstatfs?.kind === 'access' ? `${fstatfs.action} ${fstatfs.resolvedPath ?? ''}` : undefined, 'stat /proc/sys/net/core');
  const failed = map('1  1.000001 statfs("/proc/sys/net/nope", 0x7ffd) = -1 ENOENT (No such file or directory)');
  assert.equal(failed?.kind === 'access' ? failed.error : undefined, 'ENOENT');
  const handle = map('1  1.000001 open_by_handle_at(3</>, {handle_bytes=8, handle_type=1, f_handle=0x0102}, O_RDONLY) = 4</proc/sys/net/unix/max_dgram_qlen>');
  assert.equal(handle?.kind === 'access' ? `${handle.action} ${handle.resolvedPath ?? ''}` : undefined, 'read /proc/sys/net/unix/max_dgram_qlen');
  assert.equal(map('1  1.000001 open_by_handle_at(3</>, 0x1, O_RDONLY) = -1 ESTALE (Stale file handle)'), undefined);
});

test('a fork in another pid namespace: the child is named by Tripline\'s pid, with its number there (--pidns-translation)', () => {
  assert.deepEqual(map('1157  1.000001 vfork() = 2 /* 1158 in strace\'s PID NS */'), {
    kind: 'fork', timeMs: 1000.001, parentTid: 1157, childTid: 1158, thread: false, sharesFs: false, childNsPid: 2,
  });
  assert.deepEqual(map('1156  1.000001 clone(child_stack=NULL, flags=CLONE_NEWPID|CLONE_NEWNS|SIGCHLD) = 1157'), {
    kind: 'fork', timeMs: 1000.001, parentTid: 1156, childTid: 1157, thread: false, sharesFs: false, newMountNamespace: true, newPidNamespace: true,
  });
});

test('unshare and setns of a pid namespace change where later children start', () => {
  assert.deepEqual(map('7  1.000001 unshare(CLONE_NEWNS|CLONE_NEWPID) = 0'), { kind: 'namespace', timeMs: 1000.001, tid: 7, mount: true, pidForChildren: true, joined: false });
  assert.deepEqual(map('7  1.000001 unshare(CLONE_NEWPID) = 0'), { kind: 'namespace', timeMs: 1000.001, tid: 7, mount: false, pidForChildren: true, joined: false });
  assert.deepEqual(map('7  1.000001 setns(3</proc/9/ns/pid>, CLONE_NEWPID) = 0'), { kind: 'namespace', timeMs: 1000.001, tid: 7, mount: false, pidForChildren: true, joined: true });
  assert.equal(map('7  1.000001 unshare(CLONE_NEWPID) = -1 EPERM (Operation not permitted)'), undefined);
});

test('mount --move, move_mount and umount2 become mount events', () => {
  assert.deepEqual(map('2867  1.000001 mount("/tmp/p", "/tmp/q", 0x55a7a9a30fd0, MS_MOVE, NULL) = 0'), {
    kind: 'mount', timeMs: 1000.001, tid: 2867, target: '/tmp/q', source: '/tmp/p', fstype: undefined, bind: false, move: true,
  });
  assert.deepEqual(map('5  1.000001 move_mount(AT_FDCWD</tmp>, "/tmp/p", AT_FDCWD</tmp>, "/tmp/q", MOVE_MOUNT_F_SYMLINKS) = 0'), {
    kind: 'mount', timeMs: 1000.001, tid: 5, target: '/tmp/q', source: '/tmp/p', fstype: undefined, bind: false, move: true,
  });
  assert.deepEqual(map('5  1.000001 move_mount(4</>, "", AT_FDCWD</tmp>, "/tmp/m", MOVE_MOUNT_F_EMPTY_PATH) = 0'), {
    kind: 'mount', timeMs: 1000.001, tid: 5, target: '/tmp/m', source: undefined, sourceFd: { fd: 4, path: '/' }, fstype: undefined, bind: false, move: true,
  });
  assert.deepEqual(map('5  1.000001 umount2("/tmp/q", 0) = 0'), {
    kind: 'mount', timeMs: 1000.001, tid: 5, target: '/tmp/q', source: undefined, fstype: undefined, bind: false, unmount: true,
  });
});

test('open_tree(OPEN_TREE_CLONE), fsopen and fsmount name detached mounts; a plain open_tree is an open', () => {
  assert.deepEqual(map('2857  1.000001 open_tree(AT_FDCWD</tmp/x>, "/proc", OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC) = 3</>'), {
    kind: 'detached-mount', timeMs: 1000.001, tid: 2857, fd: 3, sourcePath: '/proc', base: { fd: 'AT_FDCWD', path: '/tmp/x' },
  });
  assert.deepEqual(map('2743  1.000001 fsopen("proc", 0) = 3<anon_inode:[fscontext]>'), { kind: 'detached-mount', timeMs: 1000.001, tid: 2743, fd: 3, fstype: 'proc', context: true });
  assert.deepEqual(map('2743  1.000001 fsmount(3<anon_inode:[fscontext]>, 0, 0) = 4</>'), {
    kind: 'detached-mount', timeMs: 1000.001, tid: 2743, fd: 4, base: { fd: 3 },
  });
  assert.equal(map('5  1.000001 open_tree(AT_FDCWD</>, "/proc/sys/net", OPEN_TREE_CLOEXEC) = 3</proc/sys/net>')?.kind, 'access');
});

test('getdents and fstatfs name the fd they operate on (it may lie under a detached mount)', () => {
  const e = map('5  1.000001 getdents64(4</sys/net>, 0x55 /* 3 entries */, 32768) = 80');
  assert.deepEqual(e?.kind === 'access' ? e.base : undefined, { fd: 4, path: '/sys/net' });
});
