// What the benchmarks share: the median of runs, one timed run of a command, and a running
// `tripline watch` to time workloads beside.

import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export const TRIPLINE = join(new URL('..', import.meta.url).pathname, 'bin/tripline.js');

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Wall time of one run of `command` (ms); throws when it fails. */
export function timeOnce(command: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  const [file, ...args] = command;
  if (file === undefined) throw new Error('empty command');
  const start = performance.now();
  const r = spawnSync(file, args, { stdio: ['ignore', 'ignore', 'ignore'], env });
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`${command.join(' ')} exited ${String(r.status)} ${String(r.signal)}`);
  return ms;
}

/** Starts `tripline watch --quiet` and resolves once it is attached; returns a stopper. */
export async function startWatch(env: NodeJS.ProcessEnv = process.env): Promise<() => Promise<void>> {
  const child = spawn('node', [TRIPLINE, 'watch', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
      if (err.includes('tripline: watching')) resolve();
    });
    child.once('exit', () => {
      reject(new Error(`watch ended: ${err}`));
    });
  });
  return async () => {
    const done = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    await done;
  };
}
