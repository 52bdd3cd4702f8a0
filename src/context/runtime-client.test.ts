import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DockerApiResolver, metadataFromInspect, podFromLabels, ResolverChain, RUNTIME_SOCKETS, type ContainerMetadata, type ContainerResolver } from './runtime-client.ts';

const ID = 'c'.repeat(64);

describe('metadataFromInspect', () => {
  it('takes name, image, image id and labels from a Docker/podman inspect answer, and the pod from the CRI labels', () => {
    const m = metadataFromInspect({
      Name: '/web-1', Image: 'sha256:abc', Config: { Image: 'localhost/app:1', Labels: {
        'io.kubernetes.pod.name': 'node-exporter-x', 'io.kubernetes.pod.namespace': 'monitoring', 'io.kubernetes.pod.uid': 'u-1',
        app: 'node-exporter', 'annotation.x': 'y',
      } },
    });
    assert.equal(m?.name, 'web-1');
    assert.equal(m.image, 'localhost/app:1');
    assert.equal(m.imageDigest, 'sha256:abc');
    assert.deepEqual(m.pod, { name: 'node-exporter-x', namespace: 'monitoring', uid: 'u-1', labels: { app: 'node-exporter' } });
  });

  it('bounds what the creator of a container chose: labels, long values, wrong types', () => {
    const labels: Record<string, unknown> = { n: 5 };
    for (let i = 0; i < 500; i++) labels[`k${String(i).padStart(3, '0')}`] = 'v'.repeat(5000);
    labels['x'.repeat(300)] = 'long key';
    const m = metadataFromInspect({ Name: 7, Config: { Image: ['x'], Labels: labels } });
    assert.equal(m?.name, null);
    assert.equal(m.image, null);
    assert.equal(Object.keys(m.labels).length, 64);
    assert.equal(m.labels['k000']?.length, 1024);
    assert.equal(m.labels['n'], undefined);
    assert.equal(metadataFromInspect('not an object'), undefined);
    assert.equal(podFromLabels({ 'io.kubernetes.pod.name': 'p' }), null, 'no namespace: no pod');
  });
});

describe('DockerApiResolver over a real unix socket', () => {
  let dir: string;
  let server: Server;
  const requests: string[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tripline-runtime-'));
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === `/containers/${ID}/json`) {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ Name: '/db', Image: 'sha256:1', Config: { Image: 'docker.io/library/postgres:16', Labels: {} } }));
      } else if (req.url === `/containers/${'d'.repeat(64)}/json`) {
        // Never answers: the timeout must end the wait.
      } else {
        res.statusCode = 404;
        res.end('{"message":"no such container"}');
      }
    });
    await new Promise<void>((resolve) => server.listen(join(dir, 'docker.sock'), resolve));
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks GET /containers/<id>/json and returns what it said; a 404, a silent runtime or a missing socket give undefined', async () => {
    const sockets = { ...RUNTIME_SOCKETS, docker: [join(dir, 'missing.sock'), join(dir, 'docker.sock')] };
    const resolver = new DockerApiResolver({ sockets, timeoutMs: 300 });
    const m = await resolver.resolve('docker', ID);
    assert.equal(m?.name, 'db');
    assert.equal(m.image, 'docker.io/library/postgres:16');
    assert.equal(await resolver.resolve('docker', 'e'.repeat(64)), undefined);
    const started = Date.now();
    assert.equal(await resolver.resolve('docker', 'd'.repeat(64)), undefined);
    assert.ok(Date.now() - started < 3000);
    assert.equal(await resolver.resolve('containerd', ID), undefined, 'no socket for containerd');
    assert.equal(await resolver.resolve('docker', '../../x'), undefined, 'only a container id reaches the URL');
    assert.ok(requests.every((r) => /^\/containers\/[0-9a-f]{64}\/json$/.test(r)));
  });
});

describe('ResolverChain', () => {
  it('asks each resolver in turn until one knows the container; one that throws is passed over', async () => {
    const asked: string[] = [];
    const answer = (who: string, metadata: ContainerMetadata | undefined): ContainerResolver => ({
      resolve: (runtime, id) => { asked.push(`${who} ${runtime} ${id.slice(0, 4)}`); return Promise.resolve(metadata); },
    });
    const known: ContainerMetadata = { name: 'web', image: null, imageDigest: null, labels: {}, pod: null };
    const failing: ContainerResolver = { resolve: () => Promise.reject(new Error('boom')) };
    const chain = new ResolverChain([answer('state', undefined), failing, answer('api', known), answer('never', undefined)]);
    assert.equal(await chain.resolve('kubernetes', ID), known);
    assert.deepEqual(asked, ['state kubernetes cccc', 'api kubernetes cccc']);
    assert.equal(await new ResolverChain([answer('state', undefined)]).resolve('docker', ID), undefined);
  });
});
