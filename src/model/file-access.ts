// A sensor access after normalization: one canonical absolute path, attributed to a process.

import type { AccessAction, TimeMs } from './sensor-event.ts';

export interface FileAccess {
  readonly kind: 'file-access';
  readonly timeMs: TimeMs;
  readonly pid: number;
  readonly tid: number;
  readonly syscall: string;
  readonly action: AccessAction;
  /** Canonical absolute path, as the kernel would resolve it. */
  readonly path: string;
  /** The path as the process spelled it, when it differs from `path`. */
  readonly spelled?: string;
  /** Undefined on success, else the errno name. */
  readonly error?: string;
  readonly isDirectory?: boolean;
}

export interface ProcessExited {
  readonly kind: 'process-exited';
  readonly timeMs: TimeMs;
  readonly pid: number;
}

export type NormalizedEvent = FileAccess | ProcessExited;
