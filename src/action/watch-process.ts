// The Action's background `tripline watch`: how it is recognized by pid (it outlives the step
// that started it, and job code may stop it; a pid alone may have been reused since).

import { readFileSync } from 'node:fs';

/** Whether `pid` is still our watch (not a process that got its pid after the watch ended). */
export function isOurWatch(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.endsWith('tripline.js')) && argv.includes('watch');
  } catch {
    return false;
  }
}
