// End to end, as a new user gets it: `npm pack` of this checkout installed into a fresh global
// prefix, then the installed command: version and help on stdout, --json listings, the shipped
// license and changelog, completion, and the demo's real detection whose docs line names a file
// that exists in the installation, not in a checkout. These machines have no registry access, so
// the install is done as `npm i -g` does it, offline: the tarball unpacked into
// PREFIX/lib/node_modules/tripline, its production dependencies (npm ls --omit=dev) copied from
// this checkout beside it, and the bin linked.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { cleanEnv, REPO_DIR } from './run-tripline.ts';

const pkg = JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { name: string; version: string };

void test('npm pack + npm i -g: the installed tripline works outside the checkout', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tripline-install-'));
  try {
    // dist/ is built by npm test before the tests run; --ignore-scripts keeps pack from building again.
    const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: REPO_DIR, encoding: 'utf8' }).trim().split('\n').at(-1) ?? '';
    const tarball = join(dir, packed);
    assert.ok(existsSync(tarball), packed);
    const prefix = join(dir, 'prefix');
    const installed = join(prefix, 'lib', 'node_modules', pkg.name);
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
    const deps = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: REPO_DIR, encoding: 'utf8' }).trim().split('\n').slice(1);
    assert.ok(deps.length >= 3, deps.join(' '));
    for (const d of deps) cpSync(d, join(installed, relative(REPO_DIR, d)), { recursive: true });
    const bin = join(prefix, 'bin', 'tripline');
    mkdirSync(join(prefix, 'bin'));
    symlinkSync(join('..', 'lib', 'node_modules', pkg.name, 'bin', 'tripline.js'), bin);
    assert.ok(!existsSync(join(installed, 'src', 'cli')), 'the package ships the build, not the TypeScript sources');
    const tripline = (args: readonly string[]) => spawnSync(bin, args, { cwd: dir, encoding: 'utf8', env: cleanEnv() });

    const version = tripline(['--version']);
    assert.deepEqual([version.status, version.stdout, version.stderr], [0, `tripline ${pkg.version}\n`, '']);
    const help = tripline(['run', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: tripline run /);
    for (const file of ['LICENSE', 'CHANGELOG.md', 'README.md', 'sensor/x86_64/tripline-sensor', 'dist/documents/validators/recipe-v1.js']) {
      assert.ok(existsSync(join(installed, file)), `${file} is in the installed package`);
    }
    assert.match(readFileSync(join(installed, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
    const list = tripline(['recipes', 'list', '--json']);
    assert.equal(list.status, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as { id: string }[]).some((r) => r.id === 'os_network_fingerprint'));
    const completion = tripline(['completion', 'bash']);
    assert.equal(completion.status, 0);
    assert.match(completion.stdout, /complete -F _tripline tripline/);

    // The demo, under the real sensor of this machine (eBPF as root, else ptrace).
    const demo = tripline(['demo']);
    assert.equal(demo.status, 0, demo.stderr);
    const docs = /^ {2}docs +(\S+) +id /m.exec(demo.stderr)?.[1];
    assert.ok(docs !== undefined, demo.stderr);
    assert.ok(docs.startsWith(installed), `the docs line names the installed file: ${docs}`);
    assert.ok(existsSync(docs), docs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
