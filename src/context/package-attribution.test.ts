import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DetectionProcess } from '../model/detection.ts';
import { describePackage } from '../model/detection.ts';
import { attributePackage } from './package-attribution.ts';

function proc(pid: number, argv: string[], cwd: string, exe = argv[0] ?? null): DetectionProcess {
  return { pid, ppid: pid - 1, exe, comm: argv[0] ?? '?', argv, argvTruncated: false, cwd, uid: 1000, start: null, exit: null };
}

const DIR = '/w/app/node_modules/@evil/left-pad';
const PKG = JSON.stringify({ name: '@evil/left-pad', version: '1.3.0', scripts: { postinstall: 'node install.js', test: 'tap' } });
const read = (p: string): string | undefined => (p === `${DIR}/package.json` ? PKG : undefined);

void test('a postinstall script of a scoped package under npm: name, version and lifecycle from its package.json', () => {
  const subject = proc(30, ['/usr/bin/node', 'install.js'], DIR);
  const ancestry = [proc(29, ['sh', '-c', 'node install.js'], DIR, '/usr/bin/sh'), proc(28, ['node', '/usr/bin/npm', 'install'], '/w/app', '/usr/bin/node')];
  const p = attributePackage(subject, [], ancestry, read);
  assert.ok(p);
  assert.deepEqual(p, { manager: 'npm', name: '@evil/left-pad', version: '1.3.0', lifecycle: 'postinstall', directory: DIR });
  assert.equal(describePackage(p), 'postinstall of @evil/left-pad@1.3.0');
});

void test('yarn and pnpm are recognised; a nested node_modules names the innermost package', () => {
  const inner = '/w/app/node_modules/a/node_modules/b';
  const yarn = attributePackage(proc(3, ['sh'], `${inner}/lib`), [], [proc(2, ['node', '/usr/lib/node_modules/yarn/bin/yarn.js'], '/w/app', '/usr/bin/node')], () => undefined);
  assert.deepEqual(yarn, { manager: 'yarn', name: 'b', version: null, lifecycle: null, directory: inner });
  const pnpm = attributePackage(proc(3, ['sh'], DIR), [], [proc(2, ['pnpm', 'install'], '/w/app', '/usr/local/bin/pnpm')], read);
  assert.equal(pnpm?.manager, 'pnpm');
});

void test('no package manager above, or no node_modules directory: no attribution', () => {
  assert.equal(attributePackage(proc(3, ['cat'], DIR), [], [proc(2, ['bash'], '/w/app', '/usr/bin/bash')], read), null);
  assert.equal(attributePackage(proc(3, ['cat'], '/w/app'), [], [proc(2, ['node', '/usr/bin/npm', 'test'], '/w/app', '/usr/bin/node')], read), null);
});

void test('an unreadable or hostile package.json never throws; the directory still names the package', () => {
  const p = attributePackage(proc(3, ['sh', '-c', 'x'], DIR), [], [proc(2, ['npm'], '/w')], () => '{not json');
  assert.deepEqual(p, { manager: 'npm', name: '@evil/left-pad', version: null, lifecycle: null, directory: DIR });
  const q = attributePackage(proc(3, ['sh', '-c', 'x'], DIR), [], [proc(2, ['npm'], '/w')], () => JSON.stringify({ name: 42, version: ['x'], scripts: 'nope' }));
  assert.ok(q);
  assert.equal(q.name, '@evil/left-pad');
  assert.equal(q.version, null);
});
