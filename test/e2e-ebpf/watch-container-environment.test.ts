// End to end: one `tripline watch --environment production` with environment_label set serves
// a mixed host: a detection in a container whose pod says tripline.io/environment=ci is a ci
// detection (environment, its source and the guidance), one whose label says something else
// ("prod") stays production and says the value was ignored. Real containers (podman + runc),
// labels from podman's Docker-compatible API. Needs root, the eBPF sensor and podman.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJsonl, withTempDir } from '../e2e/run-tripline.ts';
import { busyboxImage, podmanUnavailable, runContainer, startPodmanService } from '../containers/podman.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, startWatch } from './watch-process.ts';

const reason = ebpfUnavailable() ?? podmanUnavailable();
const IMAGE = 'localhost/tripline-test-busybox:1';
const LABEL = 'tripline.io/environment';

void test('watch takes each detection\'s environment from its pod\'s label (ci, staging, production only), the guidance with it', { skip: reason ?? false, timeout: 600_000 }, () => withTempDir(async (dir) => {
  busyboxImage(IMAGE);
  const config = join(dir, 'tripline.yaml');
  writeFileSync(config, `environment: production\nenvironment_label: ${LABEL}\n`, { mode: 0o644 });
  const jsonl = join(dir, 'watch.jsonl');
  const service = await startPodmanService();
  try {
    const watch = startWatch(['--config', config, '--jsonl', jsonl]);
    try {
      await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
      const pod = (name: string): Record<string, string> => ({ 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'builds', 'io.kubernetes.pod.uid': `uid-${name}` });
      // Each container reads one setting first (Tripline meets it and asks podman), then runs sysctl -a through podman exec.
      const first = ['sh', '-c', 'cat /proc/sys/net/core/somaxconn; exec sleep 600'];
      const ci = runContainer(IMAGE, first, { labels: { ...pod('runner-1'), [LABEL]: 'ci' }, then: ['sysctl', '-a'] });
      const bad = runContainer(IMAGE, first, { labels: { ...pod('runner-2'), [LABEL]: 'prod' }, then: ['sysctl', '-a'] });
      // sysctl -a exits 1 here (stable_secret cannot be read): its status says nothing.
      for (const run of [ci, bad]) assert.match(run.id, /^[0-9a-f]{64}$/);
      for (const run of [ci, bad]) await watch.waitFor(new RegExp(`os_network_fingerprint .*sysctl -a.* in container .*podman ${run.id.slice(0, 12)}`), 120_000);
      watch.child.kill('SIGINT');
      assert.equal(await watch.exited, 0, watch.stderr());
      const closed = parseJsonl(readFileSync(jsonl, 'utf8')).filter((d) => d.state === 'closed' && d.subject.process.argv.join(' ') === 'sysctl -a');
      const of = (id: string) => closed.find((d) => d.subject.process.container?.id === id);
      const inCi = of(ci.id);
      assert.ok(inCi, `no closed detection in ${ci.id}: ${watch.stderr()}`);
      assert.equal(inCi.environment.kind, 'ci');
      assert.equal(inCi.environment.source, `label ${LABEL} of pod builds/runner-1`);
      assert.equal(inCi.guidance.environment, 'ci');
      const inBad = of(bad.id);
      assert.ok(inBad, `no closed detection in ${bad.id}: ${watch.stderr()}`);
      assert.equal(inBad.environment.kind, 'production');
      assert.equal(inBad.environment.source, `${config}:1:14; the label ${LABEL} of pod builds/runner-2 says "prod", which is not ci, staging, production: ignored`);
      assert.equal(inBad.guidance.environment, 'production');
      assert.notDeepEqual(inCi.guidance.actions, inBad.guidance.actions);
    } finally {
      if (watch.child.exitCode === null) watch.child.kill('SIGKILL');
    }
  } finally {
    await service.stop();
  }
}));
