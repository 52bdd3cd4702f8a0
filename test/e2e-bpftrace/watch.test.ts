// The watch end-to-end tests again, with bpftrace's program (the compiled sensor's fallback).
// Needs root and bpftrace.
import { ebpfUnavailable } from '../e2e-ebpf/ebpf-availability.ts';

if (ebpfUnavailable() === undefined) process.env.TRIPLINE_E2E_EBPF_PROGRAM = 'bpftrace';
await import('../e2e-ebpf/watch.test.ts');
