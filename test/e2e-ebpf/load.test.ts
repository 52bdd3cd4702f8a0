// The load end-to-end test under run --sensor ebpf.
import { importUnderEbpf } from './ebpf-availability.ts';

await importUnderEbpf(new URL('../e2e/load.test.ts', import.meta.url), 'load');
