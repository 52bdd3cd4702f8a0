// The evasion end-to-end tests again, with `run --sensor ebpf` running bpftrace's program (the
// compiled sensor's fallback), so the suite covers all three sensors. Needs root and bpftrace.
import { importUnderEbpf } from '../e2e-ebpf/ebpf-availability.ts';

await importUnderEbpf(new URL('../e2e/evasion.test.ts', import.meta.url), 'evasion (bpftrace)', 'bpftrace');
