import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Detection } from '../model/detection.ts';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import { annotationOf, escapeCommandData, escapeCommandProperty, GithubOutput, markdownBlock, markdownCode, markdownText, summaryOf } from './github-output.ts';

const HOSTILE_ARGV = [
  '::error::pwned', 'x\n::set-output name=pwned::1', '![x](http://evil.example/x.png)', '<script>alert(1)</script>',
  '`` ` ```', '| a | b |', '%0A::warning::y', 'http://evil.example/steal', '**bold** _em_ [link](http://evil.example)',
];

function hostile(): Detection {
  const base = replayFixture('sysctl-a.strace').closed[0];
  assert.ok(base);
  const d = structuredClone(base) as { -readonly [K in keyof Detection]: Detection[K] };
  const p = { ...d.subject.process, comm: '::error::pwned', argv: HOSTILE_ARGV, exe: '/tmp/x\n::error::exe', cwd: '/tmp/<img src=x onerror=alert(1)>' };
  d.subject = { ...d.subject, process: p, ancestry: [{ ...p, pid: 1 }] };
  d.evidence = { ...d.evidence, files: d.evidence.files.map((f, i) => (i === 0 ? { ...f, path: '/proc/sys/net/`x`\n<script>' } : f)) };
  d.guidance = { ...d.guidance, implications: `${HOSTILE_ARGV.join(' ')} read things`, actions: [`Find ${HOSTILE_ARGV.join(' ')}`] };
  // The step comes from a process's environment: as hostile as its argv.
  d.environment = { ...d.environment, ci: { provider: 'github-actions', step: { id: HOSTILE_ARGV.join(' '), action: '<img src=x onerror=alert(1)>@`v`\n::error::x', pid: 5 } } };
  return d;
}

/** The Markdown with its code blocks and code spans removed (their content is shown literally, never rendered). */
function outsideCode(md: string): string {
  const noBlocks = md.replace(/^(`{3,})text\n[\s\S]*?\n\1$/gm, '');
  let out = '';
  for (let i = 0; i < noBlocks.length;) {
    const run = /^`+/.exec(noBlocks.slice(i))?.[0];
    if (run === undefined) {
      out += noBlocks[i] ?? '';
      i++;
      continue;
    }
    // A code span ends at the next run of exactly as many backticks.
    const rest = noBlocks.slice(i + run.length);
    const close = [...rest.matchAll(/`+/g)].find((m) => m[0].length === run.length);
    if (close === undefined) {
      out += run;
      i += run.length;
    } else {
      i += run.length + (close.index) + run.length;
    }
  }
  return out;
}

void describe('github output escaping', () => {
  void test('workflow-command escaping: %, CR, LF in data; also : and , in properties', () => {
    assert.equal(escapeCommandData('a%b\r\nc'), 'a%25b%0D%0Ac');
    assert.equal(escapeCommandProperty('t: a, b'), 't%3A a%2C b');
  });

  void test('an annotation of a hostile detection is one line, starts with the only command, and forges nothing', () => {
    const line = annotationOf(hostile());
    assert.equal(line.split('\n').length, 1);
    assert.match(line, /^::notice title=Tripline%3A os_network_fingerprint \(low\)::/);
    // Every later "::" is inside the message data, after the command's own "::".
    assert.equal(line.indexOf('::', 2), line.indexOf('::notice') + '::notice title=Tripline%3A os_network_fingerprint (low)'.length);
    assert.ok(!line.includes('\r'));
    assert.match(line, /x\\n::set-output/);
  });

  void test('an annotation shows ESC, NUL, CR and bidi overrides as escapes: nothing for the log viewer to obey, no line to end', () => {
    const d = hostile();
    const p = { ...d.subject.process, argv: ['sh', '-c', '\u001b[2J\u0000x\ry\u202Ez', '##[add-mask]x', '::stop-commands::t'] };
    const line = annotationOf({ ...d, subject: { ...d.subject, process: p }, evidence: { ...d.evidence, directories: ['/proc/sys/net/\u001b[31m\u2066'] } });
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(line), JSON.stringify(line));
    assert.match(line, /\\x1b\[2J\\x00x\\ry\\u202ez/);
    assert.match(line, /\\x1b\[31m\\u2066/);
    assert.ok(line.startsWith('::notice title='));
  });

  void test('markdown prose: every character that could start markup is escaped (the summary and SARIF help)', () => {
    assert.equal(markdownText('<b>x</b> ![i](u) *a* `c` 1_2'), '\\<b\\>x\\<\\/b\\> \\!\\[i\\]\\(u\\) \\*a\\* \\`c\\` 1\\_2');
    assert.equal(markdownText('1. not a list'), '1\\. not a list');
    assert.equal(markdownText('- not a bullet'), '\\- not a bullet');
  });

  void test('markdown code spans and blocks cannot be broken out of', () => {
    assert.equal(markdownCode('a`b'), '``a`b``');
    assert.equal(markdownCode('`'), '`` ` ``');
    assert.equal(markdownCode('a|b', true), '`a\\|b`');
    assert.equal(markdownCode('a\nb'), '`a\\nb`');
    const block = markdownBlock(['```', '````']);
    assert.ok(block.startsWith('`````text\n'));
    assert.ok(block.endsWith('\n`````'));
  });

  void test('the job summary of a hostile detection has no raw HTML, image, link or line break from the process', () => {
    const md = summaryOf([hostile()]);
    const rendered = outsideCode(md);
    assert.ok(!rendered.includes('<script>'), 'no raw <script> outside code');
    assert.ok(!rendered.includes('<img'), 'no raw <img> outside code');
    assert.ok(!rendered.includes('](http'), 'no markdown link or image outside code');
    assert.ok(!/https?:\/\//.test(rendered), 'no bare URL to autolink outside code');
    assert.ok(!/^::/m.test(md), 'no line starts a workflow command');
    assert.ok(!md.includes('\n::set-output'), 'the newline in argv did not reach the summary');
    // Table rows stay rows: each has exactly the 6 unescaped pipes of 5 cells.
    for (const row of md.split('\n').filter((l) => l.startsWith('| 1 |'))) {
      assert.equal(row.replace(/\\\|/g, '').split('|').length - 1, 6, row);
    }
    assert.match(md, /### 1\. OS network fingerprint/);
  });

  void test('the workflow step that started the subject is in the annotation, the table row and the details', () => {
    const base = replayFixture('sysctl-a.strace').closed[0];
    assert.ok(base);
    assert.doesNotMatch(annotationOf(base), /step /);
    const d: Detection = { ...base, environment: { ...base.environment, ci: { provider: 'github-actions', step: { id: 'install', action: 'actions/setup-node@v4', pid: 42 } } } };
    assert.match(annotationOf(d), /::step install \(actions\/setup-node@v4\): sysctl -a \(pid /);
    const md = summaryOf([d]);
    assert.match(md, /\| step `install`: `sysctl -a` pid /);
    assert.match(md, /\*\*Step:\*\* `install` \(`actions\/setup-node@v4`\)/);
    // A hostile step stays inside code spans and one annotation line.
    const h = hostile();
    assert.equal(annotationOf(h).split('\n').length, 1);
    assert.match(annotationOf(h), /step ::error::pwned x\\n::set-output/);
    assert.match(summaryOf([h]), /\*\*Step:\*\* `+::error::pwned x\\n::set-output/);
  });

  void test('writes the summary and step outputs to the runner files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripline-gh-'));
    try {
      const lines: string[] = [];
      const out = new GithubOutput({ annotations: (l) => lines.push(l), summaryPath: join(dir, 'summary.md'), outputPath: join(dir, 'output'), sarifPath: '/w/tripline.sarif' });
      const d = replayFixture('sysctl-a.strace').closed[0];
      assert.ok(d);
      out.closed(d);
      out.close();
      assert.equal(lines.length, 1);
      assert.match(readFileSync(join(dir, 'summary.md'), 'utf8'), /1 detection\(s\)\./);
      const outputs = readFileSync(join(dir, 'output'), 'utf8');
      assert.match(outputs, /^detections<<(TRIPLINE_[0-9a-f]+)\n1\n\1\n/m);
      assert.match(outputs, /^highest-importance<<(TRIPLINE_[0-9a-f]+)\nlow\n\1$/m);
      assert.match(outputs, /^sarif<<(TRIPLINE_[0-9a-f]+)\n\/w\/tripline\.sarif\n\1$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

void describe('github output: sensor loss', () => {
  function lossy(d: Detection, eventsLost: number): Detection {
    return { ...d, sensor: { name: 'bpftrace', version: '0.20.2', eventsLost, gaps: [{ start: d.evidence.first, end: d.evidence.last }], complete: false } };
  }

  void test('an incomplete detection is marked in its annotation, its table row and its details; the summary counts them', () => {
    const d = replayFixture('sysctl-a.strace').closed[0];
    assert.ok(d);
    assert.doesNotMatch(annotationOf(d), /incomplete/);
    assert.doesNotMatch(summaryOf([d]), /incomplete/);
    const line = annotationOf(lossy(d, 12));
    assert.equal(line.split('\n').length, 1);
    assert.match(line, /\. Evidence may be incomplete: 12 events lost while this process ran; sensor down \d\d:\d\d:\d\d–\d\d:\d\d:\d\d UTC\. \S/);
    const md = summaryOf([d, lossy(d, 12), lossy(d, 5)]);
    assert.match(md, /^3 detection\(s\)\.\n\n\*\*Evidence may be incomplete\*\* for 2 of 3 detection\(s\) \(sensor lost events, was down while their subjects ran\)\. Up to 12 event\(s\) were lost while one of their subjects ran \(subjects overlap in time, so the counts do not add up\)\.\n/m);
    assert.match(summaryOf([lossy(d, 7)]), /^\*\*Evidence may be incomplete\*\* for 1 of 1 detection\(s\) \(sensor lost events, was down while their subjects ran\)\. 7 event\(s\) were lost while its subject ran\.$/m);
    const rows = md.split('\n').filter((l) => /^\| \d \|/.test(l));
    assert.equal(rows.length, 3);
    assert.doesNotMatch(rows[0] ?? '', /incomplete/);
    // As rendered: Markdown's backslash escapes of punctuation removed.
    const rendered = (text: string): string => text.replace(/\\([!-/:-@[-`{-~])/g, '$1');
    assert.match(rendered(rows[1] ?? ''), / — \*\*may be incomplete\*\* \(12 events lost, sensor down\) \|$/);
    for (const row of rows) assert.equal(row.replace(/\\\|/g, '').split('|').length - 1, 6, row);
    assert.match(rendered(md), /\*\*Sensor:\*\* evidence may be incomplete: 12 events lost while this process ran; sensor down/);
  });

  void test('the job summary counts loss over every detection, also those past the listed ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripline-gh-'));
    try {
      const d = replayFixture('sysctl-a.strace').closed[0];
      assert.ok(d);
      const out = new GithubOutput({ annotations: () => undefined, summaryPath: join(dir, 'summary.md'), outputPath: undefined });
      for (let i = 0; i < 250; i++) out.closed(i < 240 ? d : lossy(d, i));
      out.close();
      assert.match(readFileSync(join(dir, 'summary.md'), 'utf8'), /^\*\*Evidence may be incomplete\*\* for 10 of 250 detection\(s\) .*Up to 249 event\(s\) were lost while one/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
