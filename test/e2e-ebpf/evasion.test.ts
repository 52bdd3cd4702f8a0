// The evasion end-to-end tests again, with `run --sensor ebpf` (needs root and bpftrace).
import { ebpfUnavailable } from './ebpf-availability.ts';

const reason = ebpfUnavailable();
if (reason === undefined) {
  process.env.TRIPLINE_E2E_SENSOR = 'ebpf';
  await import('../e2e/evasion.test.ts');
} else {
  const { test } = await import('node:test');
  void test('evasion under the eBPF sensor', { skip: reason }, () => undefined);
}
