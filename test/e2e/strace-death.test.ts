// End to end, ptrace sensor: what the command sees when Tripline or strace dies under it.
// Tripline SIGKILLed: strace must not flood the command's stderr with "Broken pipe" (one line
// per trace line before). strace SIGKILLed: the report names the traced processes still
// running and says their traced calls now fail with ENOSYS (--seccomp-bpf).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeStrace } from '../../src/sensors/strace/strace-sensor.ts';
import { cleanEnv, killGroup, TRIPLINE_BIN, waitForFile, withTempDir } from './run-tripline.ts';

interface Started {
  readonly pid: number;
  /** Everything written to tripline's stderr, which is also the command's and strace's. */
  readonly stderr: () => string;
  /** Resolves when every process holding that stderr (tripline, strace, the command) closed it. */
  readonly closed: Promise<void>;
  readonly exited: Promise<number | null>;
  readonly kill: () => void;
}

function startRun(script: string): Started {
  const child = spawn(process.execPath, [TRIPLINE_BIN, 'run', '--quiet', '--sensor', 'ptrace', '--', 'sh', '-c', script], {
    env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'], detached: true,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  const closed = new Promise<void>((resolve) => { child.stderr.once('close', () => { resolve(); }); });
  const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code); }); });
  if (child.pid === undefined) throw new Error('tripline did not start');
  return { pid: child.pid, stderr: () => stderr, closed, exited, kill: () => { killGroup(child); } };
}

void test('tripline SIGKILLed while the command works: the command finishes, and its stderr gets at most a couple of lines from strace', { timeout: 120_000 }, () => withTempDir(async (dir) => {
  const script = `touch ${dir}/started; i=0; while [ $i -lt 300 ]; do cat /proc/sys/net/core/somaxconn > /dev/null; i=$((i+1)); done; echo finished >&2`;
  const run = startRun(script);
  try {
    await waitForFile(join(dir, 'started'), 10_000);
    process.kill(run.pid, 'SIGKILL');
    await run.closed;
  } finally {
    run.kill();
  }
  const lines = run.stderr().split('\n').filter((l) => l !== '');
  assert.ok(lines.includes('finished'), `the command ran to its end:\n${run.stderr().slice(0, 2000)}`);
  const fromStrace = lines.filter((l) => l.includes('strace'));
  assert.ok(fromStrace.length <= 2, `${String(fromStrace.length)} line(s) from strace on the command's stderr, e.g. ${fromStrace[0] ?? ''}`);
}));

void test('strace SIGKILLed: run reports the processes still running and that their traced calls now fail with ENOSYS', { timeout: 60_000 }, () => withTempDir(async (dir) => {
  const run = startRun(`touch ${dir}/started; sleep 2; cat /proc/sys/net/core/somaxconn; echo "cat: $?" >&2`);
  let code: number | null;
  try {
    await waitForFile(join(dir, 'started'), 10_000);
    const strace = spawnSync('pgrep', ['-P', String(run.pid), '-x', 'strace'], { encoding: 'utf8' }).stdout.trim();
    assert.match(strace, /^\d+$/, 'strace runs as a child of tripline');
    process.kill(Number(strace), 'SIGKILL');
    code = await run.exited;
    await run.closed;
  } finally {
    run.kill();
  }
  assert.equal(code, 69, run.stderr());
  const stderr = run.stderr();
  assert.match(stderr, /the tracer \(strace\) died with SIGKILL while [12] traced process\(es\) were still running: pid \d+ \(sh -c 'touch [^)]*, still alive\)/);
  if (probeStrace(cleanEnv()).seccompBpf) {
    assert.match(stderr, /under --seccomp-bpf, every system call Tripline traces \([^)]*\) now fails for them with ENOSYS/);
    assert.match(stderr, /Function not implemented|Cannot fork/, 'and the command did meet ENOSYS');
  } else {
    assert.match(stderr, /they run on untraced/);
  }
}));
