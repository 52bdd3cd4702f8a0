import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { findSensorProgram, lookUpExecutable, notRootOnly, SENSOR_PROGRAM_DIRS } from './executable-lookup.ts';

const IS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;
const notRoot = IS_ROOT ? false : 'needs root: the programs belong to another user (chown)';
const base = realpathSync(mkdtempSync(join(tmpdir(), 'tripline-lookup-')));
after(() => { rmSync(base, { recursive: true, force: true }); });
let n = 0;
function fresh(): string {
  const dir = join(base, String(++n));
  mkdirSync(dir);
  return dir;
}

function script(dir: string, name: string, mode = 0o755): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, mode);
  return path;
}

/** Runs `fn` with the working directory set to `dir`. */
function inDir<T>(dir: string, fn: () => T): T {
  const old = process.cwd();
  process.chdir(dir);
  try {
    return fn();
  } finally {
    process.chdir(old);
  }
}

void describe('findSensorProgram', () => {
  for (const [what, env] of [
    ['PATH unset', {}],
    ['PATH=:', { PATH: ':' }],
    ['PATH=.', { PATH: '.' }],
    ['PATH naming the directory', undefined],
  ] as const) {
    void test(`${what}: a bpftrace or strace in the working directory or on PATH is never picked`, () => {
      const dir = fresh();
      for (const name of ['bpftrace', 'strace', 'mount', 'mkfifo']) {
        script(dir, name);
        const r = inDir(dir, () => findSensorProgram(name, { env: env ?? { PATH: dir } }));
        if ('path' in r) {
          assert.ok(SENSOR_PROGRAM_DIRS.some((d) => r.path === join(d, name)), `picked ${r.path}`);
        } else {
          assert.match(r.problem, new RegExp(`${name} is not installed in /usr/sbin, /usr/bin, .* \\(PATH is not searched\\)`));
        }
      }
    });
  }

  void test('a program only in the working directory is not found; the wrapped command\'s lookup still uses PATH', () => {
    const dir = fresh();
    script(dir, 'tripline-fake-sensor');
    const r = inDir(dir, () => findSensorProgram('tripline-fake-sensor', { env: { PATH: ':' } }));
    assert.ok('problem' in r, JSON.stringify(r));
    assert.deepEqual(lookUpExecutable('tripline-fake-sensor', { PATH: ':' }, dir), { found: join(dir, 'tripline-fake-sensor') });
  });

  void test('the variable must give an absolute path', () => {
    for (const value of ['bpftrace', './bpftrace', 'bin/bpftrace']) {
      const r = findSensorProgram('bpftrace', { env: { TRIPLINE_BPFTRACE: value }, variable: 'TRIPLINE_BPFTRACE' });
      assert.ok('problem' in r, `${value} accepted`);
      assert.match(r.problem, new RegExp(`TRIPLINE_BPFTRACE=${value.replace('.', '\\.')} is not an absolute path.*give the full path, like /usr/bin/bpftrace`));
    }
    const missing = findSensorProgram('strace', { env: { TRIPLINE_STRACE: '/nonexistent/strace' }, variable: 'TRIPLINE_STRACE' });
    assert.deepEqual(missing, { problem: 'TRIPLINE_STRACE=/nonexistent/strace is not an executable file' });
  });

  void test('an absolute override of root\'s, in root\'s directories (even below sticky /tmp), is used', () => {
    const path = script(fresh(), 'strace');
    assert.deepEqual(findSensorProgram('strace', { env: { TRIPLINE_STRACE: path }, variable: 'TRIPLINE_STRACE' }), { path });
  });

  void test('as root, a program another user owns or can write is refused; not as another user', { skip: notRoot }, () => {
    const dir = fresh();
    const theirs = script(dir, 'theirs');
    chownSync(theirs, NOBODY, NOBODY);
    const writable = script(dir, 'writable', 0o775);
    const env = { A: theirs, B: writable };
    assert.deepEqual(findSensorProgram('x', { env, variable: 'A', euid: 0 }), { problem: `A=${theirs} is not safe to run as root: ${theirs} belongs to uid 65534, not to root` });
    assert.deepEqual(findSensorProgram('x', { env, variable: 'B', euid: 0 }), { problem: `B=${writable} is not safe to run as root: ${writable} is writable by its group` });
    assert.deepEqual(findSensorProgram('x', { env, variable: 'A', euid: 1000 }), { path: theirs });
    // A directory another user owns on the way.
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    chownSync(sub, NOBODY, NOBODY);
    const inside = script(sub, 'prog');
    assert.match(notRootOnly(inside) ?? '', new RegExp(`${sub} belongs to uid 65534`));
    // A world-writable directory without the sticky bit.
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.match(notRootOnly(script(open, 'prog')) ?? '', /writable by everyone/);
  });

  void test('the system\'s own programs are safe to run as root', { skip: notRoot }, () => {
    assert.equal(notRootOnly('/bin/sh'), undefined);
  });
});
