// The recipes-and-configuration end-to-end tests again, with `run --sensor ebpf`: a user recipe
// on another tree (/etc) is filtered on in the kernel by the compiled sensor. Needs root.
import { importUnderEbpf } from './ebpf-availability.ts';

await importUnderEbpf(new URL('../e2e/recipes-config.test.ts', import.meta.url), 'recipes-config');
