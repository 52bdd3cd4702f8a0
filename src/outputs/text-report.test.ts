import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { PLAIN } from './palette.ts';
import { formatNotice } from './terminal-notice.ts';
import { visible } from './terminal-text.ts';
import { formatReport } from './text-report.ts';

const GOLDEN = new URL('../../test/golden/', import.meta.url);

/** Compares with test/golden/NAME; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function assertGolden(name: string, actual: string): void {
  const file = new URL(name, GOLDEN);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${name} (UPDATE_GOLDEN=1 to accept)`);
}

function detectionsOf(fixture: string, kind: 'ci' | 'production'): Detection[] {
  const environment = kind === 'ci'
    ? { kind, source: 'CI variables (github-actions)', ci: { provider: 'github-actions', repository: 'acme/shop', workflow: 'build', job: 'test', runId: '42' } }
    : { kind, source: '--environment' };
  return replayFixture(fixture, { environment }).closed;
}

const SUMMARY = {
  exit: 'exit 0', durationMs: 1234, sensor: 'strace 6.1 --seccomp-bpf', lines: 932, unparsed: 0, unparsedSamples: [], warnings: [],
};

test('report of a shell audit in CI (golden)', () => {
  const out = formatReport(detectionsOf('audit-cat-loop.strace', 'ci'), { ...SUMMARY, command: ['./audit-cat.sh'] }, PLAIN, 100);
  assertGolden('report-audit-ci.txt', `${out}\n`);
});

test('report of sysctl -a in production, with a long evidence list cut (golden)', () => {
  const out = formatReport(detectionsOf('sysctl-a.strace', 'production'), { ...SUMMARY, command: ['sysctl', '-a'] }, PLAIN, 100);
  assertGolden('report-sysctl-production.txt', `${out}\n`);
});

test('report with warnings and unparsed lines, and no detection (golden)', () => {
  const out = formatReport([], {
    ...SUMMARY, command: ['make', 'test'], exit: 'killed by SIGKILL', unparsed: 2,
    unparsedSamples: [{ line: 7, reason: 'not a syscall line', text: 'strace: \u001b[31mweird' }],
    warnings: ['the tracer (strace) died with SIGKILL before the command ended'],
  }, PLAIN, 100);
  assertGolden('report-warnings.txt', `${out}\n`);
});

test('the live notice names recipe, importance, pid, command and breadth (golden)', () => {
  const [d] = replayFixture('three-areas.strace').opened;
  assert.ok(d);
  assertGolden('notice-three-areas.txt', `${formatNotice(d, PLAIN)}\n`);
});

test('attacker-controlled text cannot drive the terminal', () => {
  assert.equal(visible('\u001b]0;pwned\u0007title'), '\\x1b]0;pwned\\x07title');
  assert.equal(visible('a\nb\rc\td'), 'a\\nb\\rc\\td');
  assert.equal(visible('\u009b31m'), '\\x9b31m');
  assert.equal(visible('é☃ ok'), 'é☃ ok');
});

test('a hostile argv in a detection reaches the report only as visible escapes', () => {
  const [d] = detectionsOf('three-areas.strace', 'ci');
  assert.ok(d);
  const hostile: Detection = {
    ...d,
    subject: { ...d.subject, process: { ...d.subject.process, argv: ['sh', '\u001b[2J\u001b[Hfake prompt$ ', 'x\ny'] } },
  };
  const out = formatReport([hostile], { ...SUMMARY, command: ['sh'] }, PLAIN, 100) + formatNotice(hostile, PLAIN);
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(out, /\u001b/);
  assert.match(out, /\\x1b\[2J/);
});
