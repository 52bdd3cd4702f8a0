import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import { PLAIN } from './palette.ts';
import { formatNotice } from './terminal-notice.ts';
import { visible } from './terminal-text.ts';
import { formatQuietSummary, formatReport } from './text-report.ts';
import { PACKAGE_ROOT } from '../model/tripline-project.ts';

const GOLDEN = new URL('../../test/golden/', import.meta.url);

/** Compares with test/golden/NAME; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function assertGolden(name: string, output: string): void {
  // The docs line names the installed file: where this checkout is does not belong in a golden file.
  const actual = output.replaceAll(PACKAGE_ROOT, '<package>/');
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

/** `d` as the eBPF sensor would report it had it lost events and been down while the subject ran. */
function incomplete(d: Detection, eventsLost: number, gaps: Detection['sensor']['gaps']): Detection {
  return { ...d, sensor: { name: 'bpftrace', version: '0.20.2', eventsLost, gaps, complete: false } };
}

function secondsAfter(iso: string, s: number): string {
  return new Date(Date.parse(iso) + s * 1000).toISOString();
}

test('an incomplete detection says so in the report, and the report ends with the loss (golden)', () => {
  const [d] = detectionsOf('three-areas.strace', 'ci');
  assert.ok(d);
  const t = d.evidence.first;
  const lossy = incomplete(d, 12, [{ start: secondsAfter(t, 0.2), end: secondsAfter(t, 3.2) }, { start: secondsAfter(t, 5), end: null }]);
  const out = formatReport([lossy], { ...SUMMARY, command: ['./three-areas.sh'], sensor: 'eBPF, bpftrace 0.20.2', sensorLost: 40 }, PLAIN, 100);
  assertGolden('report-incomplete.txt', `${out}\n`);
  // The line wraps at the report's width like every other.
  assert.match(out.replace(/\n {12}(?=\S)/g, ' '), /\n {2}sensor {4}evidence may be incomplete: 12 events lost while this process tree ran; sensor down \d\d:\d\d:\d\d–\d\d:\d\d:\d\d, from \d\d:\d\d:\d\d \(not back when this was written\) UTC\n {2}what/);
  assert.match(out, /\ntripline: 1 of 1 detection\(s\) may be incomplete \(sensor lost events, was down\); the sensor lost 40 event\(s\) in this run: what they held was not analysed$/);
});

test('a complete detection gets no sensor line and the report no loss footer; loss outside any subject still ends the report', () => {
  const ds = detectionsOf('three-areas.strace', 'ci');
  const out = formatReport(ds, { ...SUMMARY, command: ['./three-areas.sh'] }, PLAIN, 100);
  assert.doesNotMatch(out, /sensor {4}|incomplete|lost/);
  const lostElsewhere = formatReport([], { ...SUMMARY, command: ['make'], sensorLost: 3 }, PLAIN, 100);
  assert.match(lostElsewhere, /\ntripline: the sensor lost 3 event\(s\) in this run: what they held was not analysed, so a detection may have been missed$/);
});

test('the live notice of an incomplete detection ends with a short note; a complete one does not', () => {
  const [d] = replayFixture('three-areas.strace').opened;
  assert.ok(d);
  assert.doesNotMatch(formatNotice(d, PLAIN), /incomplete/);
  assert.match(formatNotice(incomplete(d, 1, []), PLAIN), /read 3 directories under \/proc\/sys\/net so far \(the final report counts them all\); evidence may be incomplete \(1 event lost\)$/);
  assert.match(formatNotice(incomplete(d, 7, [{ start: d.time, end: null }]), PLAIN), /; evidence may be incomplete \(7 events lost, sensor down\)$/);
});

test('--quiet\'s one line counts the incomplete detections', () => {
  const [d] = detectionsOf('three-areas.strace', 'ci');
  assert.ok(d);
  assert.equal(formatQuietSummary([], []), undefined);
  assert.equal(formatQuietSummary([d], []), 'tripline: 1 detection(s)');
  assert.equal(formatQuietSummary([d, incomplete(d, 12, [])], ['bpftrace lost 12 event(s)']), 'tripline: 2 detection(s); 1 incomplete (sensor lost events); bpftrace lost 12 event(s)');
  assert.equal(formatQuietSummary([incomplete(d, 0, [{ start: d.time, end: d.time }])], []), 'tripline: 1 detection(s); 1 incomplete (sensor was down)');
});

test('a gap on another day than the detection shows its date; many gaps are counted', () => {
  const [d] = detectionsOf('three-areas.strace', 'ci');
  assert.ok(d);
  const gaps = [{ start: secondsAfter(d.time, -86_400), end: secondsAfter(d.time, -86_390) }, ...Array.from({ length: 4 }, (_, i) => ({ start: secondsAfter(d.time, i), end: secondsAfter(d.time, i + 0.5) }))];
  const out = formatReport([incomplete(d, 0, gaps)], { ...SUMMARY, command: ['x'] }, PLAIN, 200);
  assert.match(out, /sensor down \d{4}-\d\d-\d\d \d\d:\d\d:\d\d–\d{4}-\d\d-\d\d \d\d:\d\d:\d\d, \d\d:\d\d:\d\d–\d\d:\d\d:\d\d, \d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC and 2 more times\n/);
});
