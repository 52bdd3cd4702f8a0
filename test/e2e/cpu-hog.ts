// A CPU hog for the load tests: one busy loop per core, in its own process group, stopped by
// the returned function (and by the test's end: a hog must never outlive the suite).

import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

export function startCpuHog(): () => void {
  const loops = Array.from({ length: availableParallelism() }, () =>
    spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore', detached: true }));
  const stop = (): void => {
    for (const loop of loops) {
      try {
        if (loop.pid !== undefined) process.kill(-loop.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', stop);
  return stop;
}
