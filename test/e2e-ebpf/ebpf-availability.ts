// Whether the eBPF end-to-end variants can run here: root, and bpftrace installed (the fallback
// of the compiled sensor, and the program test/e2e-bpftrace pins).

import { spawnSync } from 'node:child_process';

/** Undefined when they can run, else why not (the tests are then reported as skipped). */
export function ebpfUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the eBPF sensor needs root';
  const r = spawnSync('bpftrace', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'bpftrace is not installed';
}

/**
 * Runs an end-to-end test file again with `run --sensor ebpf` (each test file is its own
 * process, so setting the variable before importing it is enough); one skipped test instead
 * when the eBPF sensor cannot run here.
 */
export async function importUnderEbpf(testFile: URL, label: string, program?: 'bpftrace' | 'compiled'): Promise<void> {
  const reason = ebpfUnavailable();
  if (reason === undefined) {
    process.env.TRIPLINE_E2E_SENSOR = 'ebpf';
    if (program !== undefined) process.env.TRIPLINE_E2E_EBPF_PROGRAM = program;
    await import(testFile.href);
    return;
  }
  const { test } = await import('node:test');
  void test(`${label} under the eBPF sensor`, { skip: reason }, () => undefined);
}
