import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { test } from 'node:test';
import { verifiedExecutable } from './executable-check.ts';

void test('verifiedExecutable: the running file, checked by device and inode; null for a look-alike spelling; undefined when gone', async () => {
  assert.equal(verifiedExecutable(process.pid), realpathSync(process.execPath));
  assert.equal(verifiedExecutable(process.pid, process.execPath), realpathSync(process.execPath));
  assert.equal(verifiedExecutable(process.pid, '/bin/sh'), null, 'another file at the spelled path');
  const child = spawn('sleep', ['0']);
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(verifiedExecutable(child.pid ?? 0), undefined);
});
