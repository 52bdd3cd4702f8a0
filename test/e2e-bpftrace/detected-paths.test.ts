// The detected-paths end-to-end tests again, with `run --sensor ebpf` running bpftrace's program (the
// compiled sensor's fallback), so the suite covers all three sensors. Needs root and bpftrace.
import { importUnderEbpf } from '../e2e-ebpf/ebpf-availability.ts';

await importUnderEbpf(new URL('../e2e/detected-paths.test.ts', import.meta.url), 'detected-paths (bpftrace)', 'bpftrace');
