import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { test } from 'node:test';
import type { SensorEvent } from '../../model/sensor-event.ts';
import { findSensorProgram } from '../executable-lookup.ts';
import { probeStrace, runUnderStrace, type StraceInstallation } from './strace-sensor.ts';

let install: StraceInstallation | undefined;
let why = '';
try {
  install = probeStrace();
} catch (error) {
  why = `strace cannot trace here: ${(error as Error).message}`;
}
const truePath = findSensorProgram('true');

/** Keeps every thread of libuv's pool busy until the returned promise settles. */
function occupyThreadPool(): Promise<unknown> {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? '4') || 4;
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < threads; i++) {
    jobs.push(new Promise((resolve) => {
      // About a second of work per thread on this machine; longer on a loaded one.
      pbkdf2('x', 'salt', 600_000, 32, 'sha512', resolve);
    }));
  }
  return Promise.all(jobs);
}

// The trace FIFO's read end used to be opened by name through libuv's thread pool. With the
// pool busy (file I/O, DNS, crypto elsewhere in the process), strace traced a quick command to
// its end before that open ran; the reader then waited for a writer forever and `run` hung.
void test('a command traced to its end before tripline gets round to reading still ends the run', { skip: install === undefined ? why : !('path' in truePath) ? 'no true(1)' : false, timeout: 60_000 }, async () => {
  assert.ok(install !== undefined && 'path' in truePath);
  const busy = occupyThreadPool();
  const events: SensorEvent[] = [];
  const run = runUnderStrace({ command: [truePath.path], cwd: '/', env: {}, strace: install, onEvents: (e) => { events.push(...e); } });
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'hung'>((resolve) => { timer = setTimeout(() => { resolve('hung'); }, 30_000); });
  const result = await Promise.race([run, bound]);
  clearTimeout(timer);
  await busy;
  assert.notEqual(result, 'hung', 'runUnderStrace did not end within 30 s of a command that ends at once');
  assert.ok(typeof result === 'object');
  assert.equal(result.tracerExitCode, 0);
  assert.ok(result.rootPid !== undefined, 'the trace was read: the root process is known');
  assert.ok(events.some((e) => e.kind === 'exec'), `the exec of true was read (${String(events.length)} events)`);
});
