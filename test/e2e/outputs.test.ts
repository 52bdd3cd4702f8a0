// End to end: every output from a real `tripline run`: SARIF (validated with Microsoft's
// validator, GitHub rules), JUnit, GitHub annotations / job summary / step outputs, a signed
// webhook to a local server; hostile process names and paths; secrets redacted; and the npm
// package whose postinstall script did it.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { verifySignature } from '../../src/outputs/webhook-output.ts';
import { assertValidSarif } from '../validate-sarif.ts';
import { cleanEnv, describeRun, runCli, runTripline, TEST_TIMEOUT, withTempDir, RECIPE_ID } from './run-tripline.ts';

const opts = { timeout: TEST_TIMEOUT * 2 };
const THREE = ['core/somaxconn', 'ipv4/ip_forward', 'unix/max_dgram_qlen'].map((f) => `/proc/sys/net/${f}`);

function githubEnv(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  writeFileSync(join(dir, 'summary.md'), '');
  writeFileSync(join(dir, 'output.txt'), '');
  return cleanEnv({
    GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: join(dir, 'summary.md'), GITHUB_OUTPUT: join(dir, 'output.txt'),
    GITHUB_WORKSPACE: dir, GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '42', GITHUB_WORKFLOW: 'build',
    GITHUB_WORKFLOW_REF: 'acme/shop/.github/workflows/ci.yml@refs/heads/main', GITHUB_JOB: 'test', ...extra,
  });
}

void describe('outputs, end to end', () => {
  void test('one run feeds SARIF, JUnit, GitHub and a signed webhook together', opts, () => withTempDir(async (dir) => {
    const received: { body: string; signature: string | undefined }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: req.headers['x-tripline-signature'] as string | undefined });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await runTripline(['sysctl', 'net'], {
        dir, env: githubEnv(dir, { TRIPLINE_WEBHOOK_SECRET: 's3cret' }),
        options: ['--output', `sarif=${join(dir, 'out.sarif')}`, '--output', `junit=${join(dir, 'out.xml')}`, '--output', `webhook=http://127.0.0.1:${String(port)}/hook`],
      });
      assert.equal(r.exitCode, 0, describeRun(r));
      assert.equal(r.detections.length, 1, describeRun(r));
      const d = r.detections[0];
      assert.ok(d);
      // SARIF: valid for GitHub code scanning, one result of our rule.
      assertValidSarif(join(dir, 'out.sarif'));
      const sarif = JSON.parse(readFileSync(join(dir, 'out.sarif'), 'utf8')) as { runs: { results: { ruleId: string }[] }[] };
      assert.deepEqual(sarif.runs[0]?.results.map((x) => x.ruleId), [RECIPE_ID]);
      // JUnit: a failure for the detection.
      const junit = readFileSync(join(dir, 'out.xml'), 'utf8');
      assert.match(junit, /<testsuites[^>]* failures="1"/);
      assert.match(junit, /<failure /);
      // GitHub: an annotation on stderr, the job summary, the step outputs.
      assert.match(r.stderr, /^::notice title=Tripline%3A os_network_fingerprint \(low\)::sysctl net \(pid \d+\) read \d+ directories/m);
      const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
      assert.match(summary, /## Tripline\n\n1 detection\(s\)\./);
      assert.match(summary, /\*\*What to do\*\*/);
      const outputs = readFileSync(join(dir, 'output.txt'), 'utf8');
      assert.match(outputs, /^detections<<(\S+)\n1\n\1$/m);
      assert.match(outputs, new RegExp(`^sarif<<(\\S+)\\n${join(dir, 'out.sarif').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n\\1$`, 'm'));
      // Webhook: the detection when it opened, then its final revision, each signed over the exact body.
      const bodies = received.map((x) => JSON.parse(x.body) as { id: string; revision: number; state: string });
      assert.deepEqual(bodies.map((b) => [b.id, b.state]), [[d.id, 'open'], [d.id, 'closed']]);
      assert.equal(bodies[1]?.revision, d.revision);
      for (const hook of received) assert.ok(verifySignature('s3cret', hook.body, hook.signature), `signature ${String(hook.signature)}`);
    } finally {
      server.close();
    }
  }));

  void test('a webhook that cannot be reached is retried, then its failure is said in the report and the job summary', opts, () => withTempDir(async (dir) => {
    // A port nothing listens on: connection refused on every attempt.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => { resolve(); }));
    const r = await runTripline(['sysctl', 'net'], { dir, env: githubEnv(dir), options: ['--output', `webhook=http://127.0.0.1:${String(port)}/hooks/SECRETPATH`], timeoutMs: 30_000 });
    assert.equal(r.exitCode, 0, describeRun(r));
    assert.equal(r.detections.length, 1, describeRun(r));
    const line = new RegExp(`webhook http://127\\.0\\.0\\.1:${String(port)}/\\*\\*\\*: 0 delivered, [12] failed`);
    assert.match(r.stderr, line);
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    assert.match(summary.replace(/\\/g, ''), line);
    assert.ok(!r.stderr.includes('SECRETPATH') && !summary.includes('SECRETPATH'), 'the hook URL path is never shown');
  }));

  void test('hostile process names and paths cannot forge workflow commands or inject Markdown/HTML', opts, () => withTempDir(async (dir) => {
    // A script whose name holds a newline and a workflow command, run with Markdown and HTML in argv.
    const evil = join(dir, 'x\n::set-output name=pwned::1');
    writeFileSync(evil, `#!/bin/sh\ncat ${THREE.join(' ')} > /dev/null\n`);
    chmodSync(evil, 0o755);
    const named = join(dir, '::error::pwned');
    copyFileSync('/bin/sh', named);
    chmodSync(named, 0o755);
    const r = await runTripline([named, '-c', `"$0" '![x](http://evil.example/x.png)' '<script>alert(1)</script>'`, evil], { dir, env: githubEnv(dir) });
    assert.equal(r.exitCode, 0, describeRun(r));
    assert.ok(r.detections.length >= 1, describeRun(r));
    const commandLines = r.stderr.split('\n').filter((l) => l.startsWith('::'));
    assert.ok(commandLines.length >= 1, r.stderr);
    for (const l of commandLines) assert.match(l, /^::(notice|warning|error) title=Tripline%3A [^:]+::/, `only our own annotations start a line with '::': ${l}`);
    assert.ok(!r.stderr.split('\n').some((l) => l.startsWith('::set-output')), 'the newline in the path did not start a line');
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    assert.ok(!summary.split('\n').some((l) => l.startsWith('::')), 'no workflow command in the summary');
    assert.ok(!/<script>alert\(1\)<\/script>/.test(summary.replace(/`+[^`]*`+/g, '').replace(/^`{3,}text\n[\s\S]*?\n`{3,}$/gm, '')), 'the <script> only ever appears inside code');
  }));

  void test('secrets in command lines are redacted in every output', opts, () => withTempDir(async (dir) => {
    const token = `ghp_${'A1b2C3d4E5'.repeat(3)}123456`;
    const r = await runTripline(['sh', '-c', `cat ${THREE.join(' ')} > /dev/null`, 'sh', `--password=hunter2hunter2`, token, 'https://bob:pa55word@example.com/x'], {
      dir, env: githubEnv(dir), options: ['--output', `sarif=${join(dir, 'out.sarif')}`, '--output', `junit=${join(dir, 'out.xml')}`],
    });
    assert.equal(r.exitCode, 0, describeRun(r));
    assert.equal(r.detections.length, 1, describeRun(r));
    const everything = [readFileSync(r.jsonlPath, 'utf8'), readFileSync(join(dir, 'out.sarif'), 'utf8'), readFileSync(join(dir, 'out.xml'), 'utf8'), readFileSync(join(dir, 'summary.md'), 'utf8'), r.stderr].join('\n');
    for (const secret of ['hunter2hunter2', token, 'pa55word']) assert.ok(!everything.includes(secret), `${secret} leaked`);
    assert.match(everything, /--password=\[REDACTED\]/);
  }));

  void test('a package.json that is a FIFO or a device never blocks or floods tripline', opts, () => withTempDir(async (dir) => {
    const pkg = join(dir, 'node_modules', 'evil');
    mkdirSync(pkg, { recursive: true });
    execFileSync('mkfifo', [join(pkg, 'package.json')]);
    // A program named npm that runs a "lifecycle script" in the package directory.
    writeFileSync(join(dir, 'npm'), `#!/bin/sh\ncd node_modules/evil && sh -c 'cat ${THREE.join(' ')} > /dev/null'\n`);
    chmodSync(join(dir, 'npm'), 0o755);
    const r = await runTripline([join(dir, 'npm')], { dir });
    assert.equal(r.timedOut, false, describeRun(r));
    assert.equal(r.exitCode, 0, describeRun(r));
    const d = r.detections[0];
    assert.ok(d, describeRun(r));
    assert.deepEqual(d.subject.package, { manager: 'npm', name: 'evil', version: null, lifecycle: null, directory: pkg });
  }));

  void test('report: forged JSONL lines are refused; its human text cannot issue workflow commands', opts, () => withTempDir(async (dir) => {
    // cat reads the three settings, then fails on the two hostile "file names" (exit 1).
    // Relative paths keep the command line short enough to be shown whole.
    const made = await runTripline(['sh', '-c', 'cd /proc/sys/net && exec cat core/somaxconn ipv4/ip_forward unix/max_dgram_qlen "$0" "$1"', '::warning::FORGED', '##[add-mask]FORGED2'], { dir });
    assert.equal(made.detections.length, 1, describeRun(made));
    const good = readFileSync(made.jsonlPath, 'utf8');
    const forged = join(dir, 'forged.jsonl');
    writeFileSync(forged, good.replace('"importance":"low"', '"importance":"none"'));
    const refused = await runCli(['report', forged], { cwd: dir });
    assert.equal(refused.exitCode, 64, refused.stderr);
    assert.match(refused.stderr, /forged\.jsonl:1: not a valid tripline\.detection\/v1 object/);
    const r = await runCli(['report', '--output', 'github', made.jsonlPath], { cwd: dir, env: githubEnv(dir) });
    assert.equal(r.exitCode, 0, r.stderr);
    const stop = /^::stop-commands::([0-9a-f]{32})$/m.exec(r.stderr);
    assert.ok(stop?.[1] !== undefined, r.stderr);
    const inside = r.stderr.slice(r.stderr.indexOf(stop[0]), r.stderr.indexOf(`::${stop[1]}::`));
    assert.match(inside, /FORGED/, 'the process text is in the suspended part');
    const outside = r.stderr.replace(inside, '');
    assert.ok(!outside.includes('FORGED'), outside);
    assert.match(r.stdout, /^::notice title=Tripline%3A/m);
  }));

  void test('an npm postinstall script is attributed to its package, first in the outputs', opts, () => withTempDir(async (dir) => {
    const pkg = join(dir, 'pkg');
    mkdirSync(pkg);
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'left-pad-evil', version: '1.3.0', scripts: { postinstall: `cat ${THREE.join(' ')} > /dev/null` } }));
    execFileSync('npm', ['pack', '--silent'], { cwd: pkg, stdio: 'ignore' });
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'shop', version: '1.0.0' }));
    const r = await runTripline(['npm', 'install', '--offline', '--no-audit', '--no-fund', '../pkg/left-pad-evil-1.3.0.tgz'], {
      dir: project, env: githubEnv(project), options: ['--output', `sarif=${join(dir, 'out.sarif')}`], timeoutMs: 60_000,
    });
    assert.equal(r.exitCode, 0, describeRun(r));
    const d = r.detections[0];
    assert.ok(d, describeRun(r));
    assert.deepEqual(d.subject.package, { manager: 'npm', name: 'left-pad-evil', version: '1.3.0', lifecycle: 'postinstall', directory: join(project, 'node_modules', 'left-pad-evil') });
    assert.match(r.stderr, /postinstall of left-pad-evil@1\.3\.0/);
    assert.match(readFileSync(join(project, 'summary.md'), 'utf8'), /\*\*Package:\*\* `postinstall of left-pad-evil@1\.3\.0`/);
    const sarif = JSON.parse(readFileSync(join(dir, 'out.sarif'), 'utf8')) as { runs: { results: { message: { text: string }; locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[] }[] };
    const result = sarif.runs[0]?.results[0];
    assert.match(result?.message.text ?? '', /^postinstall of left-pad-evil@1\.3\.0: /);
    assert.equal(result?.locations[0]?.physicalLocation.artifactLocation.uri, 'package.json', 'the manifest that brought the dependency in');
    assertValidSarif(join(dir, 'out.sarif'));
  }));
});
