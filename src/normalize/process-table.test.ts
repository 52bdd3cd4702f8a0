import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessTable } from './process-table.ts';

/** S (10) forks I (11), I forks R (12) and exits; another process (20) then forks Q with I's pid. */
function takeover(table = new ProcessTable()): ProcessTable {
  table.pidOf(10, { timeMs: 0 });
  table.exec(10, '/usr/bin/s', ['s'], false, 0);
  table.fork(10, 20, false, 1);
  table.exec(20, '/usr/bin/helper', ['helper'], false, 2);
  table.fork(10, 11, false, 3);
  table.fork(11, 12, false, 4);
  table.exit(11, 5, 0, undefined);
  table.fork(20, 11, false, 6);
  table.exec(11, '/usr/bin/sleep', ['sleep'], false, 7);
  table.exec(12, '/usr/bin/cat', ['cat'], false, 8);
  return table;
}

test('a reader whose dead parent\'s pid was taken over (clone3 set_tid) still descends from that parent', () => {
  const table = takeover();
  const ancestry = table.ancestry(12);
  assert.deepEqual(ancestry.map((p) => [p.pid, p.exe, p.exitMs]), [[11, '/usr/bin/s', 5], [10, '/usr/bin/s', undefined]]);
  assert.equal(table.parent(12)?.exe, '/usr/bin/s', 'not the sleep that holds the pid now');
  // The pid now names the new process, with its own lineage.
  assert.equal(table.get(11)?.exe, '/usr/bin/sleep');
  assert.deepEqual(table.ancestry(11).map((p) => p.pid), [20, 10]);
  const dead = ancestry[0];
  assert.ok(dead !== undefined);
  assert.equal(table.isRunning(dead), false);
  assert.equal(table.isLive(11), true);
  assert.deepEqual(table.ancestryOf(dead).map((p) => p.pid), [10]);
});

test('a pid reused after its process exited is not the parent of what that process forked (and vice versa)', () => {
  const table = new ProcessTable();
  table.pidOf(10, { timeMs: 0 });
  table.fork(10, 11, false, 1);
  table.exit(11, 2, 0, undefined);
  table.fork(10, 11, false, 3);
  table.fork(11, 12, false, 4);
  assert.equal(table.parent(12), table.get(11));
  assert.equal(table.get(11)?.startMs, 3);
});

test('dead ancestors are forgotten past the capacity: ancestry stops there and holds no longer chain', () => {
  const table = new ProcessTable({ exitedCapacity: 2 });
  table.pidOf(1, { timeMs: 0 });
  // A chain 1 → 2 → ... → 8, each exiting once it forked the next; 8 lives.
  for (let pid = 2; pid <= 8; pid++) {
    table.fork(pid - 1, pid, false, pid);
    if (pid > 2) table.exit(pid - 1, pid, 0, undefined);
  }
  assert.deepEqual(table.ancestry(8).map((p) => p.pid), [7, 6]);
  // A process forgotten while it lived on as a dead parent is nobody's parent afterwards.
  table.fork(8, 9, false, 20);
  assert.deepEqual(table.ancestry(9).map((p) => p.pid), [8, 7, 6]);
});
