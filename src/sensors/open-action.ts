// What an open(2) does to a path, from its flags, the same for every sensor: O_PATH only
// looks (a stat), O_RDWR reads (and writes), O_WRONLY or O_CREAT only write.

import type { AccessAction } from '../model/sensor-event.ts';

export interface OpenFlags {
  readonly accessMode: 'read' | 'write' | 'readwrite';
  readonly create: boolean;
  readonly path: boolean;
  readonly directory: boolean;
}

export function openAction(flags: OpenFlags): { action: AccessAction; isDirectory?: boolean } {
  if (flags.path) return { action: 'stat' };
  if (flags.accessMode === 'readwrite') return { action: 'readwrite' };
  if (flags.accessMode === 'write' || flags.create) return { action: 'write' };
  if (flags.directory) return { action: 'read', isDirectory: true };
  return { action: 'read' };
}

/** From strace's symbolic flags (`O_RDONLY|O_CLOEXEC|O_DIRECTORY`). */
export function openFlagsFromNames(names: string): OpenFlags {
  const has = (name: string): boolean => new RegExp(`\\b${name}\\b`).test(names);
  return {
    accessMode: has('O_RDWR') ? 'readwrite' : has('O_WRONLY') ? 'write' : 'read',
    create: has('O_CREAT'),
    path: has('O_PATH'),
    directory: has('O_DIRECTORY'),
  };
}

/** From the numeric flags the kernel holds (x86_64 and most architectures' values). */
export function openFlagsFromBits(bits: number): OpenFlags {
  const mode = bits & 3;
  return {
    accessMode: mode === 2 ? 'readwrite' : mode === 1 ? 'write' : 'read',
    create: (bits & 0o100) !== 0,
    path: (bits & 0o10000000) !== 0,
    directory: (bits & 0o200000) !== 0,
  };
}
