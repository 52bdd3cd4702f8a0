import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FileAccess } from '../model/file-access.ts';
import type { SensorEvent } from '../model/sensor-event.ts';
import { Normalizer } from './normalizer.ts';

function run(events: readonly SensorEvent[]): { accesses: FileAccess[]; n: Normalizer } {
  const n = new Normalizer({ initialCwd: '/work', roots: ['/proc/sys/net'] });
  const accesses: FileAccess[] = [];
  for (const e of events) {
    const out = n.ingest(e);
    if (out?.kind === 'file-access') accesses.push(out);
  }
  return { accesses, n };
}

const exec = (tid: number): SensorEvent => ({ kind: 'exec', timeMs: 1, tid, path: '/bin/sh', argv: ['sh'], argvTruncated: false });
const stat = (tid: number, path: string, base?: string): SensorEvent => ({
  kind: 'access', timeMs: 2, tid, syscall: 'newfstatat', action: 'stat', path, ...(base === undefined ? {} : { base: { fd: 'AT_FDCWD' as const, path: base } }),
});

test('a relative path resolves against the kernel\'s view of the cwd, which also updates the table', () => {
  const { accesses, n } = run([exec(1), stat(1, 'core', '/proc/sys/net')]);
  assert.equal(accesses[0]?.path, '/proc/sys/net/core');
  assert.equal(accesses[0].spelled, 'core');
  assert.equal(n.processes.get(1)?.cwd, '/proc/sys/net');
});

test('chdir and fchdir move the cwd; children inherit it', () => {
  const { accesses } = run([
    exec(1),
    { kind: 'cwd', timeMs: 2, tid: 1, path: '/proc/sys' },
    { kind: 'cwd', timeMs: 3, tid: 1, path: 'net' },
    { kind: 'fork', timeMs: 4, parentTid: 1, childTid: 2, thread: false, sharesFs: false },
    stat(2, 'ipv4'),
    { kind: 'cwd', timeMs: 5, tid: 1, fd: { fd: 3, path: '/proc/sys/net/unix' } },
    stat(1, '.'),
  ]);
  assert.deepEqual(accesses.map((a) => a.path), ['/proc/sys/net/ipv4', '/proc/sys/net/unix']);
});

test('an fd opened on procfs can be reached again through /proc/self/fd/N and /dev/fd/N', () => {
  const { accesses } = run([
    exec(1),
    { kind: 'access', timeMs: 2, tid: 1, syscall: 'openat', action: 'read', path: '/proc/sys/net', resolvedPath: '/proc/sys/net', returnedFd: 7, isDirectory: true },
    stat(1, '/proc/self/fd/7/core'),
    stat(1, '/dev/fd/7/ipv4'),
    stat(1, '/proc/1/fd/7/unix'),
  ]);
  assert.deepEqual(accesses.slice(1).map((a) => a.path), ['/proc/sys/net/core', '/proc/sys/net/ipv4', '/proc/sys/net/unix']);
});

test('a symlink created during the run is followed by later stats, relative targets included', () => {
  const { accesses } = run([
    exec(1),
    { kind: 'symlink', timeMs: 2, tid: 1, target: '../proc/sys/net', linkPath: 'n', base: { fd: 'AT_FDCWD', path: '/tmp' } },
    stat(1, '/tmp/n/core'),
  ]);
  assert.equal(accesses[0]?.path, '/proc/sys/net/core');
});

test('a readlink answer teaches the link, but reading the link itself does not follow it', () => {
  const { accesses } = run([
    exec(1),
    { kind: 'access', timeMs: 2, tid: 1, syscall: 'readlink', action: 'readlink', path: '/tmp/l', linkTarget: '/proc/sys/net', noFollow: true },
    stat(1, '/tmp/l/core'),
  ]);
  assert.deepEqual(accesses.map((a) => a.path), ['/proc/sys/net/core']);
});

test('procfs mounted elsewhere and bind mounts of /proc are mapped back to /proc', () => {
  const { accesses } = run([
    exec(1),
    { kind: 'mount', timeMs: 2, tid: 1, source: 'proc', target: '/mnt/p', fstype: 'proc', bind: false },
    { kind: 'mount', timeMs: 3, tid: 1, source: '/proc/sys/net', target: '/mnt/b', fstype: undefined, bind: true },
    { kind: 'access', timeMs: 4, tid: 1, syscall: 'openat', action: 'read', path: '/mnt/p/sys/net/core/somaxconn', resolvedPath: '/mnt/p/sys/net/core/somaxconn' },
    stat(1, '/mnt/b/ipv4'),
  ]);
  assert.deepEqual(accesses.map((a) => a.path), ['/proc/sys/net/core/somaxconn', '/proc/sys/net/ipv4']);
});

test('links that cannot lead into /proc are not remembered', () => {
  const { n } = run([
    exec(1),
    { kind: 'access', timeMs: 2, tid: 1, syscall: 'openat', action: 'read', path: '/lib/x.so', resolvedPath: '/usr/lib/x.so' },
    { kind: 'symlink', timeMs: 3, tid: 1, target: '/etc/passwd', linkPath: '/tmp/p' },
  ]);
  assert.equal(n.processes.hasSymlinks, false);
});

test('a path relative to an fd the trace never showed cannot be resolved and is counted as such', () => {
  const { accesses, n } = run([
    exec(1),
    { kind: 'access', timeMs: 2, tid: 1, syscall: 'openat', action: 'read', path: 'core/somaxconn', base: { fd: 9 } },
  ]);
  assert.equal(accesses.length, 0);
  assert.equal(n.stats.unresolvable, 1);
});

test('with a live probe, the link on the way to /proc is found exactly, not guessed from the spelling', () => {
  const probe = {
    realpath: (p: string) => (p === '/d/ipv4' ? '/proc/sys/net/ipv4' : p.startsWith('/d/ipv4/') ? undefined : p),
    isDirectory: () => undefined,
    verifiedExecutable: () => undefined,
  };
  const n = new Normalizer({ initialCwd: '/', roots: ['/proc/sys/net'], probe });
  n.ingest(exec(1));
  n.ingest({ kind: 'access', timeMs: 2, tid: 1, syscall: 'openat', action: 'read', path: '/d/ipv4/ip_forward', resolvedPath: '/proc/sys/net/ipv4/ip_forward' });
  assert.equal(n.processes.symlinkAt('/d/ipv4'), '/proc/sys/net/ipv4');
  assert.equal(n.processes.symlinkAt('/d'), undefined);
  // /d/a/f is a real file next to the link: it must stay where it is
  assert.equal(n.ingest(stat(1, '/d/a/f')), undefined);
  const through = n.ingest(stat(1, '/d/ipv4/conf'));
  assert.equal(through?.kind === 'file-access' ? through.path : undefined, '/proc/sys/net/ipv4/conf');
});

test('without a probe nothing is guessed from a spelling the kernel resolved elsewhere', () => {
  const { n } = run([
    exec(1),
    { kind: 'access', timeMs: 2, tid: 1, syscall: 'openat', action: 'read', path: '/d/ipv4/ip_forward', resolvedPath: '/proc/sys/net/ipv4/ip_forward' },
  ]);
  assert.equal(n.processes.hasSymlinks, false);
});

test('access(2) on a directory counts it as a directory when a probe can tell', () => {
  const n = new Normalizer({ initialCwd: '/', roots: ['/proc/sys/net'], probe: { realpath: (p) => p, isDirectory: (p) => p.endsWith('/core'), verifiedExecutable: () => undefined } });
  n.ingest(exec(1));
  const dir = n.ingest({ kind: 'access', timeMs: 2, tid: 1, syscall: 'access', action: 'access', path: '/proc/sys/net/core' });
  const file = n.ingest({ kind: 'access', timeMs: 3, tid: 1, syscall: 'access', action: 'access', path: '/proc/sys/net/core/somaxconn' });
  assert.equal(dir?.kind === 'file-access' ? dir.isDirectory : 'none', true);
  assert.equal(file?.kind === 'file-access' ? file.isDirectory : 'none', false);
});

test('kill lines printed per thread after the process exited do not make phantom processes', () => {
  const { n } = run([
    exec(1),
    { kind: 'fork', timeMs: 2, parentTid: 1, childTid: 2, thread: true, sharesFs: true },
    { kind: 'exit', timeMs: 3, tid: 2, signal: 'SIGKILL' },
    { kind: 'exit', timeMs: 3, tid: 1, signal: 'SIGKILL' },
    stat(2, '/proc/sys/net/core'),
  ]);
  assert.equal(n.processes.get(1)?.exe, '/bin/sh', 'the record of the process survives its threads\' lines');
  assert.equal(n.processes.get(2), undefined, 'no process was made up for the thread');
  assert.deepEqual(n.processes.livePids(), []);
});

test('an executable gone before it was checked: its physical path stands in Tripline\'s mount namespace, never after it left it', () => {
  const probe = { realpath: (p: string) => (p === '/sbin/sysctl' ? '/usr/sbin/sysctl' : p), isDirectory: () => undefined, verifiedExecutable: () => undefined };
  const run = (leave: boolean): string | null | undefined => {
    const n = new Normalizer({ initialCwd: '/', roots: ['/proc/sys/net'], probe });
    if (leave) n.ingest({ kind: 'namespace', timeMs: 0, tid: 5, mount: true, pidForChildren: false, joined: false });
    n.ingest({ kind: 'exec', timeMs: 1, tid: 5, path: '/sbin/sysctl', argv: ['sysctl'], argvTruncated: false });
    return n.processes.get(5)?.verifiedExe;
  };
  assert.equal(run(false), '/usr/sbin/sysctl');
  assert.equal(run(true), null);
});
