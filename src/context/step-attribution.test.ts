import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import fc from 'fast-check';
import type { DetectionProcess } from '../model/detection.ts';
import { ENVIRON_READ_LIMIT, LIVE_PROC_READER, STEP_ID_LIMIT, StepTracker, startTicksFromStat, stepFromEnviron, type ProcReader } from './step-attribution.ts';

const environ = (...entries: string[]): Buffer => Buffer.from(entries.map((e) => `${e}\0`).join(''));

test('only the step variables are taken from an environment, the first of each, bounded', () => {
  const env = environ('AWS_SECRET_ACCESS_KEY=hunter2', 'GITHUB_ACTIONS=true', 'GITHUB_ACTION=build', 'GITHUB_ACTION=forged', 'GITHUB_ACTION_REPOSITORY=actions/setup-node', 'GITHUB_ACTION_REF=v4', 'XGITHUB_ACTION=no');
  const step = stepFromEnviron(env);
  assert.deepEqual(step, { id: 'build', action: 'actions/setup-node@v4' });
  assert.ok(!JSON.stringify(step).includes('hunter2'));
  assert.equal(stepFromEnviron(environ('GITHUB_ACTIONX=1', 'PATH=/bin')), undefined);
  assert.equal(stepFromEnviron(environ('GITHUB_ACTION=')), undefined);
  const long = stepFromEnviron(environ(`GITHUB_ACTION=${'a'.repeat(10_000)}`));
  assert.ok(long !== undefined);
  assert.equal(long.id.length, STEP_ID_LIMIT);
  assert.ok(long.id.endsWith('…'));
  // A read cut at the limit: the last entry may be cut, so it is not used.
  assert.equal(stepFromEnviron(Buffer.from('PATH=/bin\0GITHUB_ACTION=bui'), false), undefined);
  assert.equal(stepFromEnviron(Buffer.from('PATH=/bin\0GITHUB_ACTION=build'), true)?.id, 'build');
});

test('any environment bytes give a bounded step or none, never a throw', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, complete) => {
    const step = stepFromEnviron(Buffer.concat([Buffer.from(bytes), Buffer.from('GITHUB_ACTION=')]), complete);
    assert.ok(step === undefined || (step.id.length <= STEP_ID_LIMIT && step.id !== ''));
  }));
});

test('the start time is field 22 of stat, whatever the command name holds', () => {
  const rest = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 20';
  assert.equal(startTicksFromStat(`77 (a) b (c) ${rest}`), 424242);
  assert.equal(startTicksFromStat('garbage'), undefined);
});

/** A fake /proc: pid -> [start ticks, environment]. */
function fakeProc(table: Map<number, [number, Buffer]>, bootMs = 1_000_000): ProcReader {
  const stat = (pid: number): string | undefined => {
    const e = table.get(pid);
    return e === undefined ? undefined : `${String(pid)} (sh) S ${Array.from({ length: 18 }, () => '0').join(' ')} ${String(e[0])} 0`;
  };
  return {
    stat,
    environ: (pid) => {
      const e = table.get(pid);
      return e === undefined ? undefined : { bytes: e[1], complete: true };
    },
    bootTimeMs: () => bootMs,
  };
}

function proc(pid: number, startMs: number | null): DetectionProcess {
  return { pid, ppid: null, exe: null, comm: 'x', argv: [], argvTruncated: false, cwd: null, uid: 0, start: startMs === null ? null : new Date(startMs).toISOString(), exit: null };
}

test('the outermost process with a step names it (a child cannot blame another step); children without one inherit it', () => {
  const table = new Map<number, [number, Buffer]>([
    [10, [100, environ('PATH=/bin')]], // the runner: no step
    [20, [200, environ('GITHUB_ACTION=install')]], // the step's shell
    [30, [300, environ('GITHUB_ACTION=__actions_checkout')]], // a postinstall script claiming another step
  ]);
  const tracker = new StepTracker(fakeProc(table));
  for (const pid of [10, 20, 30]) tracker.observe(pid);
  const runner = proc(10, 1_000_000 + 1_000);
  const shell = proc(20, 1_000_000 + 2_000);
  const script = proc(30, 1_000_000 + 3_000);
  const gone = proc(40, 1_000_000 + 4_000); // exited before it was read
  assert.deepEqual(tracker.stepOf(script, [shell, runner]), { id: 'install', pid: 20 });
  assert.deepEqual(tracker.stepOf(gone, [script, shell, runner]), { id: 'install', pid: 20 });
  assert.deepEqual(tracker.stepOf(script, []), { id: '__actions_checkout', pid: 30 });
  assert.equal(tracker.stepOf(runner, []), undefined);
});

test('a reused pid: each process gets the step of the holder of its pid at the time', () => {
  const table = new Map<number, [number, Buffer]>([[50, [100, environ('GITHUB_ACTION=first')]]]);
  const tracker = new StepTracker(fakeProc(table));
  tracker.observe(50);
  table.set(50, [900, environ('GITHUB_ACTION=second')]);
  tracker.observe(50);
  assert.equal(tracker.stepOf(proc(50, 1_000_000 + 1_000), [])?.id, 'first');
  assert.equal(tracker.stepOf(proc(50, 1_000_000 + 9_000), [])?.id, 'second');
  // Seen first long after it started (introduced from /proc): still its pid's holder then.
  assert.equal(tracker.stepOf(proc(50, 1_000_000 + 60_000), [])?.id, 'second');
  // A process that started before any holder we read: unknown, not a later holder's step.
  assert.equal(tracker.stepOf(proc(50, 1_000_000 - 5_000), []), undefined);
});

test('a pid replaced while its environment was read is not recorded', () => {
  const table = new Map<number, [number, Buffer]>([[60, [100, environ('GITHUB_ACTION=old')]]]);
  const base = fakeProc(table);
  const tracker = new StepTracker({ ...base, environ: (pid, limit) => { const r = base.environ(pid, limit); table.set(60, [700, environ('GITHUB_ACTION=new')]); return r; } });
  tracker.observe(60);
  assert.equal(tracker.stepOf(proc(60, 1_000_000 + 1_000), []), undefined);
});

test('live: the step of a child process read from its /proc/PID/environ, and nothing else of it kept', { skip: process.getuid?.() === 0 ? false : 'reading another process environment needs root or the same user' }, async () => {
  const child = spawn('sleep', ['30'], { env: { GITHUB_ACTION: 'live-step', SECRET_TOKEN: 's3cret', PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: 'ignore' });
  try {
    const pid = child.pid ?? 0;
    await new Promise((r) => child.once('spawn', r));
    // spawn() has forked; wait until sleep's exec replaced the environment.
    for (let i = 0; i < 500 && !(LIVE_PROC_READER.environ(pid, ENVIRON_READ_LIMIT)?.bytes.includes('live-step') ?? false); i++) await new Promise((r) => setImmediate(r));
    const tracker = new StepTracker();
    tracker.observe(pid);
    const step = tracker.stepOf(proc(pid, Date.now()), []);
    assert.deepEqual(step, { id: 'live-step', pid });
    assert.ok(!JSON.stringify(step).includes('s3cret'));
  } finally {
    child.kill('SIGKILL');
  }
});

test('a process is read once, however often the sensor asks about it', () => {
  const table = new Map<number, [number, Buffer]>([[70, [100, environ('GITHUB_ACTION=once')]]]);
  const base = fakeProc(table);
  let reads = 0;
  const tracker = new StepTracker({ ...base, environ: (pid, limit) => { reads++; return base.environ(pid, limit); } });
  for (let i = 0; i < 100; i++) tracker.observe(70);
  assert.equal(reads, 1);
  table.set(70, [500, environ('GITHUB_ACTION=next')]);
  tracker.observe(70);
  assert.equal(reads, 2, 'a new process with the pid is read');
});
