// Shared helper of the `tripline watch` end-to-end tests: starts the real daemon, collects its
// stderr, and waits for a line to appear there (an event, never a fixed sleep). The first wait
// for "watching" is generous: bpftrace compiles its program first, 2 s on an idle machine and
// tens of seconds on a loaded one.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cleanEnv, TRIPLINE_BIN } from '../e2e/run-tripline.ts';

export interface WatchProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly stderr: () => string;
  /** Resolves once stderr matches; rejects after `ms`, or at once if watch has exited without it. */
  readonly waitFor: (wanted: RegExp, ms: number) => Promise<void>;
}

/** How long to wait for "watching every process" (bpftrace's attach). */
export const ATTACH_MS = 120_000;

/** `tripline watch ARGS`, run through `prefix` when given (e.g. nsenter into another mount namespace). */
export function startWatch(args: readonly string[], prefix: readonly string[] = []): WatchProcess {
  const [cmd = process.execPath, ...rest] = [...prefix, process.execPath, TRIPLINE_BIN, 'watch', ...args];
  const child = spawn(cmd, rest, { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  child.stderr.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
  // A test that failed or timed out must not leave a root daemon behind: killed when this test
  // file's process exits, and after 10 minutes whatever happens.
  const kill = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); };
  process.once('exit', kill);
  setTimeout(kill, 600_000).unref();
  const waitFor = (wanted: RegExp, ms: number): Promise<void> => new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + ms;
    const check = (): void => {
      if (wanted.test(text)) resolve();
      else if (Date.now() > deadline || child.exitCode !== null) reject(new Error(`no ${String(wanted)} within ${String(ms)} ms: ${text}`));
      else setTimeout(check, 50);
    };
    check();
  });
  return { child, exited, stderr: () => text, waitFor };
}

/** The eBPF program these tests expect watch to run: the compiled sensor unless a variant pins bpftrace. */
export const EXPECTED_SENSOR = process.env.TRIPLINE_E2E_EBPF_PROGRAM === 'bpftrace' ? 'bpftrace' : 'tripline-sensor';

/** The pid of the sensor program watch runs (its only child). */
export function sensorChildPid(watchPid: number): string {
  return spawnSync('pgrep', ['-P', String(watchPid), '-x', EXPECTED_SENSOR], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? '';
}
