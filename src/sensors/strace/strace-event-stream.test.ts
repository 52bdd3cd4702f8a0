import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SensorEvent } from '../../model/sensor-event.ts';
import { StraceEventStream } from './strace-event-stream.ts';

function feed(stream: StraceEventStream, lines: readonly string[]): SensorEvent[] {
  return lines.flatMap((l) => stream.push(l));
}

const describeEvent = (e: SensorEvent): string => (e.kind === 'fork' ? `fork ${e.parentTid}>${e.childTid}` : e.kind === 'sensor-loss' ? `loss ${e.lost}` : `${e.kind} ${e.tid}`);

test('a child speaking before its parent\'s fork returns is held until the fork names it', () => {
  const s = new StraceEventStream();
  const events = feed(s, [
    '100  1.000001 execve("/bin/sh", ["sh"], 0x1 /* 1 vars */) = 0',
    '100  1.000002 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>',
    '101  1.000003 execve("/bin/cat", ["cat", "f"], 0x1 /* 1 vars */) = 0',
    '101  1.000004 openat(AT_FDCWD</proc/sys/net>, "core/somaxconn", O_RDONLY) = 3</proc/sys/net/core/somaxconn>',
    '100  1.000005 <... clone resumed>) = 101',
    '101  1.000006 exit_group(0)   = ?',
  ]);
  assert.deepEqual(events.map(describeEvent), ['exec 100', 'fork 100>101', 'exec 101', 'access 101', 'exit 101']);
  assert.equal(s.root, 100);
});

test('unknown threads are not held when no fork is under way', () => {
  const s = new StraceEventStream();
  const events = feed(s, [
    '100  1.000001 execve("/bin/sh", ["sh"], 0x1 /* 1 vars */) = 0',
    '555  1.000002 chdir("/tmp") = 0',
  ]);
  assert.deepEqual(events.map(describeEvent), ['exec 100', 'cwd 555']);
});

test('the end of input releases what is still held, and parses a cut last line if it can', () => {
  const s = new StraceEventStream();
  feed(s, ['100  1.000001 execve("/bin/sh", ["sh"], 0x1 /* 1 vars */) = 0', '100  1.000002 vfork( <unfinished ...>']);
  assert.deepEqual(feed(s, ['101  1.000003 execve("/bin/cat", ["cat"], 0x1 /* 1 vars */) = 0']), []);
  const rest = s.end('101  1.000004 exit_group(0) = ?');
  assert.deepEqual(rest.map(describeEvent), ['exec 101', 'exit 101']);
});

test('when a process exits, its threads are forgotten too, so a reused tid waits for its fork again', () => {
  const s = new StraceEventStream();
  feed(s, [
    '100  1.000001 execve("/usr/bin/python3", ["python3"], 0x1 /* 1 vars */) = 0',
    '100  1.000002 clone3({flags=CLONE_VM|CLONE_FS|CLONE_THREAD, child_tid=0x1}, 88) = 101',
    '101  1.000003 openat(AT_FDCWD</>, "/proc/sys/net/core/somaxconn", O_RDONLY) = 3</proc/sys/net/core/somaxconn>',
    '100  1.000004 exit_group(0)   = ?',
    '50  1.000005 execve("/bin/sh", ["sh"], 0x1 /* 1 vars */) = 0',
    '50  1.000006 vfork( <unfinished ...>',
  ]);
  // tid 101 is reused by sh's new child: held until the vfork returns it.
  assert.deepEqual(feed(s, ['101  1.000007 execve("/bin/cat", ["cat"], 0x1 /* 1 vars */) = 0']), []);
  assert.deepEqual(feed(s, ['50  1.000008 <... vfork resumed>) = 101']).map(describeEvent), ['fork 50>101', 'exec 101']);
});

test('unparsable lines are counted with samples, and the stream goes on', () => {
  const s = new StraceEventStream();
  feed(s, ['garbage', '100  1.000001 execve("/bin/sh", ["sh"], 0x1 /* 1 vars */) = 0', '100  1.5 openat(AT_FDCWD</>, "unterminated']);
  assert.equal(s.stats.unparsed, 2);
  assert.equal(s.stats.events, 1);
  assert.deepEqual(s.stats.unparsedSamples.map((x) => x.line), [1, 3]);
});
