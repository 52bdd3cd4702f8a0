// Whether the eBPF end-to-end variants can run here: root, and bpftrace installed.

import { spawnSync } from 'node:child_process';

/** Undefined when they can run, else why not (the tests are then reported as skipped). */
export function ebpfUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the eBPF sensor needs root';
  const r = spawnSync('bpftrace', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'bpftrace is not installed';
}
