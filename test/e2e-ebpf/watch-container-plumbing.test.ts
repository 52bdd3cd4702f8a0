// End to end: under `tripline watch`, starting and stopping containers that do nothing
// fingerprint-like (one publishing a port, so netavark sets up forwarding) makes no detection
// from the container plumbing (podman, netavark or the CNI plugins, conmon, runc), while a
// `sysctl -a` inside a container still fires, attributed to that container. Guards the measured
// default exceptions (docs/recipes/os_network_fingerprint.md). Needs root, eBPF and podman.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseJsonl, withTempDir } from '../e2e/run-tripline.ts';
import { busyboxImage, podmanUnavailable, runContainer } from '../containers/podman.ts';
import { ebpfUnavailable } from './ebpf-availability.ts';
import { ATTACH_MS, startWatch } from './watch-process.ts';

const reason = ebpfUnavailable() ?? podmanUnavailable();
const IMAGE = 'localhost/tripline-test-busybox:1';

/** A process of the container machinery, by its executable (runc runs as a memfd copy of itself). */
function isPlumbing(exe: string | null, comm: string): boolean {
  const path = exe ?? '';
  return /^\/usr\/(?:bin|sbin|lib|libexec)\/(?:podman\/)?(?:podman|netavark|aardvark-dns|conmon|runc|crun)$/.test(path)
    || path.startsWith('/usr/lib/cni/') || /runc/.test(path) || ['podman', 'netavark', 'conmon', 'runc', 'runc:[2:INIT]'].includes(comm);
}

void test('watch: containers doing nothing fingerprint-like raise nothing from the plumbing; a sysctl -a inside one still fires, in that container', { skip: reason ?? false, timeout: 600_000 }, () => withTempDir(async (dir) => {
  busyboxImage(IMAGE);
  const jsonl = join(dir, 'watch.jsonl');
  const watch = startWatch(['--jsonl', jsonl, '--environment', 'production']);
  try {
    await watch.waitFor(/tripline: watching every process/, ATTACH_MS);
    const quiet = [
      runContainer(IMAGE, ['true']),
      // A published port: netavark sets up port forwarding (its noisiest case, measured at 3 directories).
      runContainer(IMAGE, ['true'], { publish: ['127.0.0.1:18080:80'] }),
      runContainer(IMAGE, ['sh', '-c', 'ls / > /dev/null'], { publish: ['127.0.0.1:18081:80'] }),
    ];
    for (const run of quiet) assert.equal(run.status, 0, run.stderr);
    // The container's first and only process (its status is 1 here: stable_secret cannot be read).
    const loud = runContainer(IMAGE, ['sysctl', '-a']);
    await watch.waitFor(new RegExp(`os_network_fingerprint .*sysctl -a.* in container .*podman ${loud.id.slice(0, 12)}`), 120_000);
    watch.child.kill('SIGINT');
    assert.equal(await watch.exited, 0, watch.stderr());
    const detections = parseJsonl(readFileSync(jsonl, 'utf8'));
    const describe = (d: (typeof detections)[number]): string =>
      `${d.subject.process.exe ?? '?'} (${d.subject.process.comm}, pid ${String(d.subject.process.pid)}, container ${d.subject.process.container?.id.slice(0, 12) ?? 'none'})`;
    assert.deepEqual(detections.filter((d) => isPlumbing(d.subject.process.exe, d.subject.process.comm)).map(describe), [], 'the plumbing fired');
    const quietIds = new Set(quiet.map((q) => q.id));
    assert.deepEqual(detections.filter((d) => quietIds.has(d.subject.process.container?.id ?? '')).map(describe), [], 'a quiet container fired');
    const mine = detections.filter((d) => d.subject.process.container?.id === loud.id);
    assert.ok(mine.length >= 1, `no detection in ${loud.id}: ${detections.map(describe).join('; ')}`);
    assert.equal(mine[0]?.subject.process.argv.join(' '), 'sysctl -a');
  } finally {
    if (watch.child.exitCode === null) watch.child.kill('SIGKILL');
  }
}));
