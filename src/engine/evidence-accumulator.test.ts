// The evidence of one detection stays bounded whatever the process does: a flood of distinct
// made-up paths, thousands of processes touching the same file.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FileAccess } from '../model/file-access.ts';
import type { Classification } from './access-classifier.ts';
import { EvidenceAccumulator, MAX_EVIDENCE_PIDS, MAX_FILE_PIDS, MAX_OMITTED_COUNTED } from './evidence-accumulator.ts';

const COUNTED: Classification = {
  root: '/proc/sys/net', unit: '/proc/sys/net/core', countedDir: '/proc/sys/net/core', reason: 'counted', evidence: true, probe: false, changesConfiguration: false,
};

function access(path: string, pid = 7, extra: Partial<FileAccess> = {}): FileAccess {
  return { kind: 'file-access', timeMs: 1_800_000_000_000, pid, tid: pid, syscall: 'newfstatat', action: 'stat', path, ...extra };
}

test('paths beyond the file list are counted exactly, and what is held stays bounded for any number of them', () => {
  const e = new EvidenceAccumulator(256, 64);
  for (let i = 0; i < 1256; i++) e.add(access(`/proc/sys/net/core/made-up-${String(i)}`), COUNTED);
  // Repeats of a listed or an omitted path count once.
  e.add(access('/proc/sys/net/core/made-up-0'), COUNTED);
  e.add(access('/proc/sys/net/core/made-up-1000'), COUNTED);
  const s = e.summary();
  assert.equal(s.files.length, 256);
  assert.equal(s.filesOmitted, 1000);
  assert.equal(s.accessCount, 1258);
  const held = e.retainedEntries;
  for (let i = 0; i < 100_000; i++) e.add(access(`/proc/sys/net/core/${'x'.repeat(200)}-${String(i)}`), COUNTED);
  assert.ok(e.retainedEntries <= 256 * 3 + MAX_OMITTED_COUNTED + 64 + 1, `bounded: ${String(e.retainedEntries)}`);
  assert.ok(e.retainedEntries > held);
  assert.equal(e.summary().filesOmitted, MAX_OMITTED_COUNTED, 'a lower bound once the count is full');
});

test('processes are bounded per file and per detection', () => {
  const e = new EvidenceAccumulator(256, 64);
  for (let pid = 1; pid <= 5000; pid++) e.add(access('/proc/sys/net/core/somaxconn', pid, { action: pid % 2 === 0 ? 'read' : 'stat', syscall: pid % 2 === 0 ? 'openat' : 'newfstatat' }), COUNTED);
  const s = e.summary();
  const [file] = s.files;
  assert.equal(file?.pids.length, MAX_FILE_PIDS);
  assert.deepEqual(file.pids.slice(0, 3), [1, 2, 3], 'the first ones, ascending');
  assert.deepEqual(file.actions, ['read', 'stat']);
  assert.deepEqual(file.syscalls, ['newfstatat', 'openat']);
  assert.equal(file.count, 5000);
  assert.equal(s.pids.length, MAX_EVIDENCE_PIDS);
});
