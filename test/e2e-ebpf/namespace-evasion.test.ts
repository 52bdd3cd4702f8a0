// The namespace-evasion end-to-end tests again, with `run --sensor ebpf` (needs root and bpftrace).
import { importUnderEbpf } from './ebpf-availability.ts';

await importUnderEbpf(new URL('../e2e/namespace-evasion.test.ts', import.meta.url), 'namespace-evasion');
