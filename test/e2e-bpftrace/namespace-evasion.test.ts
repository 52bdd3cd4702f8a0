// The namespace-evasion end-to-end tests again, with `run --sensor ebpf` running bpftrace's program (the
// compiled sensor's fallback). Needs root and bpftrace.
import { importUnderEbpf } from '../e2e-ebpf/ebpf-availability.ts';

await importUnderEbpf(new URL('../e2e/namespace-evasion.test.ts', import.meta.url), 'namespace-evasion (bpftrace)', 'bpftrace');
