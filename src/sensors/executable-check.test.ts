import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { realpathSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { userDevFromKernel, verifiedByInode, verifiedExecutable } from './executable-check.ts';

void test('verifiedExecutable: the running file, checked by device and inode; null for a look-alike spelling; undefined when gone', async () => {
  assert.equal(verifiedExecutable(process.pid), realpathSync(process.execPath));
  assert.equal(verifiedExecutable(process.pid, process.execPath), realpathSync(process.execPath));
  assert.equal(verifiedExecutable(process.pid, '/bin/sh'), null, 'another file at the spelled path');
  const child = spawn('sleep', ['0']);
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(verifiedExecutable(child.pid ?? 0), undefined);
});

void test('an executable is verified from the device and inode the kernel read at exec, with the process gone', () => {
  assert.equal(userDevFromKernel(254 * 2 ** 20), 254 * 256);
  assert.equal(userDevFromKernel(8 * 2 ** 20 + 0x1234), 0x34 + 8 * 256 + 0x12 * 2 ** 20);
  const real = realpathSync('/bin/sh');
  const st = statSync(real);
  const major = Math.floor(st.dev / 256) & 0xfff;
  const minor = (st.dev & 0xff) + (Math.floor(st.dev / 2 ** 20) & 0xfff) * 256;
  const kdev = major * 2 ** 20 + minor;
  assert.equal(verifiedByInode('/bin/sh', kdev, BigInt(st.ino)), real);
  assert.equal(verifiedByInode('/bin/sh', kdev, BigInt(st.ino) + 1n), null, 'another file at that path (a bind mount in a private namespace, a swapped link)');
  assert.equal(verifiedByInode('/nonexistent/sh', kdev, BigInt(st.ino)), null);
});
