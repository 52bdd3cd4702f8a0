// The FileSystemProbe of a live run: asks the kernel directly. Used only for rare accesses
// (a spelling that the kernel resolved elsewhere; access(2) on a path of unknown type).

import { realpathSync, statSync } from 'node:fs';
import type { FileSystemProbe } from '../model/file-system-probe.ts';
import { verifiedExecutable } from './executable-check.ts';

export const LIVE_FILE_SYSTEM_PROBE: FileSystemProbe = {
  realpath(path: string): string | undefined {
    try {
      return realpathSync.native(path);
    } catch {
      return undefined;
    }
  },
  verifiedExecutable,
  isDirectory(path: string): boolean | undefined {
    try {
      return statSync(path).isDirectory();
    } catch {
      return undefined;
    }
  },
};
