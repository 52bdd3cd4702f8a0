// End to end: `tripline watch` on a host running real containers (podman + runc, a busybox image
// made from a local root filesystem). A `sysctl -a` inside a container is reported with the
// container's id from its cgroup, and with its name, image and Kubernetes pod from podman's
// Docker-compatible API (started here, stopped after); an exception on an image silences only
// that image. Needs root, the eBPF sensor and podman; skipped with the reason otherwise.

import assert from 'node:assert/strict';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJsonl, withTempDir } from '../e2e/run-tripline.ts';
import { busyboxImage, podmanUnavailable, runContainer, startPodmanService } from '../containers/podman.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, startWatch } from './watch-process.ts';

const reason = ebpfUnavailable() ?? podmanUnavailable();

const LOUD = 'localhost/tripline-test-busybox:1';
const QUIET = 'localhost/tripline-test-busybox-quiet:1';

void test('watch names the container, image and pod of a sysctl -a inside a container; an exception on one image silences only that image', { skip: reason ?? false, timeout: 600_000 }, () => withTempDir(async (dir) => {
  busyboxImage(LOUD);
  busyboxImage(QUIET);
  const config = join(dir, 'tripline.yaml');
  writeFileSync(config, [
    'exceptions:',
    '  - recipe: os_network_fingerprint',
    '    name: quiet image',
    '    reason: the test image that may read these',
    `    container_image: "${QUIET.replace(/:1$/, ':*')}"`,
    '',
  ].join('\n'), { mode: 0o644 });
  const jsonl = join(dir, 'watch.jsonl');
  const service = await startPodmanService();
  try {
    const watch = startWatch(['--config', config, '--jsonl', jsonl, '--environment', 'production']);
    try {
      await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
      // The runtime is asked about a container when Tripline first sees one of its processes, and
      // the answer comes asynchronously: accesses judged before it are not matched by an image
      // condition (they count). So the excepted container first reads one setting (Tripline
      // learns it and asks podman) and waits; sysctl -a then runs in it through podman exec.
      const quiet = runContainer(QUIET, ['sh', '-c', 'cat /proc/sys/net/core/somaxconn; exec sleep 600'], { then: ['sysctl', '-a'] });
      // The container's entrypoint outlives its sysctl -a, as an entrypoint script does (a
      // container's very first process: watch-container-first-process.test.ts).
      const loud = runContainer(LOUD, ['sh', '-c', 'sysctl -a; exec sleep 5'], { labels: { 'io.kubernetes.pod.name': 'web-7d9f', 'io.kubernetes.pod.namespace': 'shop', 'io.kubernetes.pod.uid': 'uid-1', app: 'web' } });
      assert.equal(loud.status, 0, loud.stderr);
      assert.match(loud.id, /^[0-9a-f]{64}$/);
      // The live notice names the container (its id at least; the name and image when podman answered first).
      await watch.waitFor(new RegExp(`os_network_fingerprint .*sysctl -a.* in container .*podman ${loud.id.slice(0, 12)}`), 120_000);
      watch.child.kill('SIGINT');
      assert.equal(await watch.exited, 0, watch.stderr());
      const detections = parseJsonl(readFileSync(jsonl, 'utf8'));
      const seen = detections.map((d) => `pid ${String(d.subject.process.pid)} ${d.subject.process.comm} container ${JSON.stringify(d.subject.process.container)}`).join('\n');
      const mine = detections.filter((d) => d.subject.process.container?.id === loud.id);
      assert.ok(mine.length >= 1, `no detection in container ${loud.id}: ${watch.stderr()}`);
      const c = mine[0]?.subject.process.container;
      assert.equal(c?.runtime, 'podman');
      assert.equal(c.name, loud.name);
      assert.equal(c.image, LOUD);
      assert.match(c.imageDigest ?? '', /^(sha256:)?[0-9a-f]{64}$/);
      assert.deepEqual(c.pod, { name: 'web-7d9f', namespace: 'shop', uid: 'uid-1', labels: { app: 'web' } });
      assert.equal(typeof mine[0]?.subject.process.namespaces?.pid, 'number');
      // The container has its own pid namespace: not Tripline's.
      assert.notEqual(mine[0]?.subject.process.namespaces?.pid, Number(/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1]));
      assert.deepEqual(detections.filter((d) => d.subject.process.container?.id === quiet.id), [], 'the excepted image fired');
      assert.match(watch.stderr(), /exception "os_network_fingerprint: quiet image" applied to \d+ access/, `quiet ${quiet.id}\n${seen}`);
    } finally {
      if (watch.child.exitCode === null) watch.child.kill('SIGKILL');
    }
  } finally {
    await service.stop();
  }
}));
