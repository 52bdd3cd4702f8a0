// End to end under watch: the store is the first output, so a detection revision that reached
// the JSONL file is in the store already, and a `kill -9` of watch loses none of them; the next
// watch opens the same store (the WAL replayed) and leaves a health sample at stop.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Detection } from '../../src/model/detection.ts';
import { openDetectionStore } from '../../src/store/sqlite-detection-store.ts';
import { withTempDir } from '../e2e/run-tripline.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, startWatch } from './watch-process.ts';

const reason = ebpfUnavailable();

/** Polls the JSONL file until a line's subject argv holds `marker`; returns those lines (an event, not a sleep). */
async function linesWith(path: string, marker: string, ms: number): Promise<Detection[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    const found = text.split('\n').filter((l) => l.endsWith('}') && l.includes(marker)).map((l) => JSON.parse(l) as Detection);
    if (found.length > 0) return found;
    if (Date.now() > deadline) assert.fail(`no detection of ${marker} in ${path} within ${String(ms)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

void test('watch: every revision in the JSONL file is in the store, also after kill -9; the next watch stores its health at stop', { skip: reason ?? false, timeout: 400_000 }, async () => {
  await withTempDir(async (dir) => {
    const store = join(dir, 'tripline.db');
    const jsonl = join(dir, 'detections.jsonl');
    const marker = `/nonexistent-${randomBytes(6).toString('hex')}`;
    const first = startWatch(['--store', store, '--jsonl', jsonl, '--health-interval', '0', '--quiet']);
    await first.waitFor(/watching every process/, ATTACH_MS);
    // Stays alive after its reads: the detection is open (its close is a window after the exit).
    const reader = spawn('sh', ['-c', `cat /proc/sys/net/core/somaxconn /proc/sys/net/ipv4/ip_forward /proc/sys/net/unix/max_dgram_qlen ${marker} 2>/dev/null; exec sleep 60`], { stdio: 'ignore' });
    try {
      const written = await linesWith(jsonl, marker, 60_000);
      first.child.kill('SIGKILL');
      await first.exited;
      const s = openDetectionStore({ path: store, create: false });
      try {
        for (const d of written) {
          const revisions = s.revisions(d.id).map((r) => r.revision);
          assert.ok(revisions.includes(d.revision), `revision ${String(d.revision)} of ${d.id} was in the JSONL file, so it is in the store (has ${JSON.stringify(revisions)})`);
          assert.equal(s.get(d.id)?.detection.subject.process.pid, d.subject.process.pid);
        }
      } finally {
        s.close();
      }
    } finally {
      reader.kill('SIGKILL');
    }
    const second = startWatch(['--store', store, '--health-interval', '0', '--quiet']);
    await second.waitFor(/watching every process/, ATTACH_MS);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, second.stderr());
    assert.doesNotMatch(second.stderr(), /warning: detection store/);
    const s = openDetectionStore({ path: store, create: false });
    try {
      const health = s.listHealth();
      assert.equal(health[0]?.source, 'watch', JSON.stringify(health));
      assert.ok(health.length >= 1);
    } finally {
      s.close();
    }
  });
});
