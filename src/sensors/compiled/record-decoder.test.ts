import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { RecordDecoder, RecordStreamError, RECORDS_VERSION, type DecodedRecord, type RootsAnswer } from './record-decoder.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const haveCompiler = spawnSync('cc', ['--version']).status === 0;

/** One record of each type, written by a C program through tripline-records.h. */
function sampleStream(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-records-'));
  try {
    const exe = join(dir, 'records-sample');
    const cc = spawnSync('cc', ['-O1', '-I', HERE, '-o', exe, join(HERE, 'records-sample.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
    const run = spawnSync(exe);
    assert.equal(run.status, 0);
    return run.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function decodeAll(stream: Buffer, chunks: readonly number[] = [stream.length]): { records: DecodedRecord[]; decoder: RecordDecoder; roots: RootsAnswer[] } {
  const decoder = new RecordDecoder();
  const records: DecodedRecord[] = [];
  const roots: RootsAnswer[] = [];
  decoder.onRoots = (answer) => { roots.push(answer); };
  let off = 0;
  for (const n of chunks) {
    decoder.push(stream.subarray(off, off + n), (r) => { records.push(r); });
    off += n;
  }
  if (off < stream.length) decoder.push(stream.subarray(off), (r) => { records.push(r); });
  return { records, decoder, roots };
}

const compilerOpts = haveCompiler ? {} : { skip: 'no C compiler (cc) to build the sample writer' };

test('records written through tripline-records.h decode field by field', compilerOpts, () => {
  const { records, decoder, roots } = decodeAll(sampleStream());
  // ROOTS answers are not events either: told to onRoots, in order.
  assert.deepEqual(roots, [{ count: 2, error: 0 }, { count: 2, error: 22 }]);
  // The C side's TL_RECORDS_VERSION is the decoder's.
  assert.deepEqual(decoder.ready, { selfPid: 42, treeRoot: 7, version: RECORDS_VERSION });
  // TIER is not an event: kept in `tier`, not passed on.
  assert.deepEqual(decoder.tier, {
    tier: 'tracepoints', hooks: 'refused', error: 1, reason: 'the kernel refused the security-hook programs (fentry/security_file_open): Operation not permitted',
  });
  assert.deepEqual(records.map((r) => r.type), ['ready', 'fork', 'exec', 'file', 'exit', 'lost', 'sync']);
  assert.deepEqual(records[1], {
    type: 'fork', ns: 2000n, parentTgid: 100, parentTid: 101, childTid: 102, thread: false, cloneFlags: 0x1200011n, parentStartNs: 5000n, parentExecId: 3, cgroupId: 3787n,
  });
  const exec = records[2];
  assert.ok(exec?.type === 'exec');
  assert.equal(exec.tgid, 102);
  assert.equal(exec.ppid, 100);
  assert.equal(exec.uid, 1000);
  assert.equal(exec.startNs, 6000n);
  assert.equal(exec.execId, 4);
  assert.equal(exec.exeDev, (8 << 20) | 1);
  assert.equal(exec.exeIno, 123456789012n);
  // All 64 bits of the cgroup id (a kernfs id's generation is its upper half).
  assert.equal(exec.cgroupId, (1n << 32n) | 3788n);
  assert.equal(exec.cgroupLeaf, 'libpod-8a1c0a7cafd37130d1d6fe38619fcdc58d326c20087ea11f076ef0569fb804b4');
  assert.equal(exec.cgroupParent, 'libpod_parent');
  assert.equal(exec.cgroupTop, 'libpod_parent');
  assert.equal(exec.cgroupLevel, 2);
  assert.equal(exec.comm, 'cat');
  assert.equal(exec.filename, '/usr/bin/cat');
  assert.equal(exec.argLength, 33);
  assert.equal(exec.argBytes.toString('latin1'), 'cat\0/proc/sys/net/core/somaxconn\0');
  assert.deepEqual(records[3], {
    type: 'file', ns: 4000n, syscall: 'i386:openat', tgid: 102, execId: 4, startNs: 6000n, dfd: -100, arg: 0x80000, ret: 3, why: 17,
    path: '/proc/sys/net/core/somaxconn', resolvedKind: 'o', depth: 4, names: ['somaxconn', 'core', 'net', 'sys'], pathWhole: true, resultUnknown: false,
  });
  assert.deepEqual(records[4], { type: 'exit', ns: 5000n, tgid: 102, execId: 4, startNs: 6000n, status: 512 });
  assert.deepEqual(records[5], { type: 'lost', count: 7 });
});

test('a stream cut anywhere decodes to the same records', compilerOpts, () => {
  const stream = sampleStream();
  const { records: whole, decoder: wholeDecoder } = decodeAll(stream);
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 40 }), (cuts) => {
    const { records, decoder } = decodeAll(stream, cuts);
    assert.deepEqual(records, whole);
    assert.deepEqual(decoder.tier, wholeDecoder.tier);
    assert.equal(decoder.pendingBytes, 0);
  }), { numRuns: 200 });
});

test('an impossible size stops the stream with an error naming where; an unknown type is one unparsed record', () => {
  const bad = Buffer.alloc(16);
  bad.writeUInt32LE(7, 0);
  bad.writeUInt32LE(8, 4);
  assert.throws(() => { new RecordDecoder().push(bad, () => undefined); }, (e: unknown) => e instanceof RecordStreamError && /impossible size 8 at byte 0/.test(e.message));
  const unknown = Buffer.alloc(16);
  unknown.writeUInt32LE(99, 0);
  unknown.writeUInt32LE(16, 4);
  const got: DecodedRecord[] = [];
  new RecordDecoder().push(unknown, (r) => { got.push(r); });
  assert.deepEqual(got, [{ type: 'unparsed', reason: 'unknown record type 99' }]);
  // A FILE record whose path length runs past its end.
  const file = Buffer.alloc(64 + 4);
  file.writeUInt32LE(7, 0);
  file.writeUInt32LE(file.length, 4);
  file.writeUInt16LE(2, 32);
  file.writeUInt8(0x2d, 35);
  file.writeUInt16LE(100, 38);
  const out: DecodedRecord[] = [];
  new RecordDecoder().push(file, (r) => { out.push(r); });
  assert.deepEqual(out, [{ type: 'unparsed', reason: 'FILE path past the record' }]);
  // A TIER record whose reason runs past its end, or of a tier this Tripline does not know: unparsed, no tier.
  const tier = Buffer.alloc(24 + 4);
  tier.writeUInt32LE(9, 0);
  tier.writeUInt32LE(tier.length, 4);
  tier.writeUInt8(1, 16);
  tier.writeUInt8(2, 17);
  tier.writeUInt16LE(5, 18);
  const tierDecoder = new RecordDecoder();
  const tierOut: DecodedRecord[] = [];
  tierDecoder.push(tier, (r) => { tierOut.push(r); });
  tier.writeUInt8(7, 16);
  tierDecoder.push(tier, (r) => { tierOut.push(r); });
  assert.deepEqual(tierOut, [{ type: 'unparsed', reason: 'TIER reason past the record' }, { type: 'unparsed', reason: 'unknown tier 7' }]);
  assert.equal(tierDecoder.tier, undefined);
});

test('the shipped sensor was built from these sources (npm run build:sensor records their hash)', async () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const { sensorSourcesHash } = await import(`${root}scripts/sensor-sources-hash.js`) as { sensorSourcesHash: (root: string) => string };
  const recorded = readFileSync(join(root, 'sensor/SOURCES.sha256'), 'utf8').trim();
  assert.equal(sensorSourcesHash(root), recorded, 'the compiled sensor\'s sources changed since sensor/ was built: run npm run build:sensor and commit sensor/');
});
