import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { replayFixture } from '../../test/replay-strace-fixture.ts';
import type { Detection } from '../model/detection.ts';
import type { Recipe } from '../model/recipe.ts';
import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { buildJunit, escapeXmlAttribute, escapeXmlText, JunitOutput, MAX_JUNIT_CASES, MAX_JUNIT_TEXT } from './junit-output.ts';
import { redactDetection } from './secret-redactor.ts';

const GOLDEN = new URL('../../test/golden/', import.meta.url);

/** Compares with test/golden/NAME; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function assertGolden(name: string, actual: string): void {
  const file = new URL(name, GOLDEN);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${name} (UPDATE_GOLDEN=1 to accept)`);
}

interface XmlElement {
  readonly name: string;
  readonly attributes: ReadonlyMap<string, string>;
  /** Decoded character data directly inside the element. */
  text: string;
}

const NAME = /[A-Za-z_][\w.-]*/y;
const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));/y;
const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff\ud800-\udfff]/u;

function allowedCodePoint(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * A strict XML 1.0 well-formedness check for the subset JUnit output uses (declaration,
 * elements, attributes, character data, the five entities and character references); throws
 * on anything else. Returns the elements in document order.
 */
function parseXml(xml: string): XmlElement[] {
  const declaration = '<?xml version="1.0" encoding="UTF-8"?>\n';
  assert.ok(xml.startsWith(declaration), 'XML declaration first');
  const forbidden = FORBIDDEN.exec(xml);
  assert.equal(forbidden, null, `character not allowed in XML at ${forbidden?.index ?? -1}`);
  let pos = declaration.length;
  const elements: XmlElement[] = [];
  const stack: XmlElement[] = [];
  let roots = 0;
  const fail = (what: string): never => assert.fail(`${what} at ${pos}: ${JSON.stringify(xml.slice(pos, pos + 40))}`);
  const name = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(xml);
    if (m === null) return fail('name expected');
    pos = NAME.lastIndex;
    return m[0];
  };
  const decode = (raw: string): string => {
    let out = '';
    for (let i = 0; i < raw.length;) {
      if (raw[i] !== '&') {
        out += raw.charAt(i);
        i += 1;
        continue;
      }
      ENTITY.lastIndex = i;
      const m = ENTITY.exec(raw);
      if (m === null) return fail(`bad entity in ${JSON.stringify(raw.slice(i, i + 12))}`);
      const cp = m[1] === undefined ? Number.parseInt(m[2] ?? m[3] ?? '', m[2] === undefined ? 16 : 10) : -1;
      if (m[1] === undefined && !allowedCodePoint(cp)) fail(`reference to a character XML forbids: ${m[0]}`);
      out += m[1] === undefined ? String.fromCodePoint(cp) : (NAMED[m[1]] ?? '');
      i = ENTITY.lastIndex;
    }
    return out;
  };
  const skipSpace = (): boolean => {
    const start = pos;
    while (pos < xml.length && ' \t\r\n'.includes(xml.charAt(pos))) pos += 1;
    return pos > start;
  };
  while (pos < xml.length) {
    if (xml.startsWith('</', pos)) {
      pos += 2;
      const closing = name();
      skipSpace();
      if (xml[pos] !== '>') fail('> expected');
      pos += 1;
      if (stack.pop()?.name !== closing) fail(`</${closing}> does not close the open element`);
    } else if (xml[pos] === '<') {
      pos += 1;
      const element: XmlElement = { name: name(), attributes: new Map(), text: '' };
      const attributes = element.attributes as Map<string, string>;
      for (;;) {
        const spaced = skipSpace();
        if (xml.startsWith('/>', pos) || xml[pos] === '>') break;
        if (!spaced) fail('space expected before an attribute');
        const attribute = name();
        if (attributes.has(attribute)) fail(`repeated attribute ${attribute}`);
        skipSpace();
        if (xml[pos] !== '=') fail('= expected');
        pos += 1;
        skipSpace();
        const quote = xml.charAt(pos);
        if (quote !== '"' && quote !== "'") fail('quote expected');
        const end = xml.indexOf(quote, pos + 1);
        if (end < 0) fail('unterminated attribute');
        const raw = xml.slice(pos + 1, end);
        if (raw.includes('<')) fail('< in an attribute');
        attributes.set(attribute, decode(raw));
        pos = end + 1;
      }
      if (stack.length === 0) roots += 1;
      if (roots > 1) fail('a second root element');
      elements.push(element);
      if (xml.startsWith('/>', pos)) {
        pos += 2;
      } else {
        pos += 1;
        stack.push(element);
      }
    } else {
      const end = xml.indexOf('<', pos);
      const raw = xml.slice(pos, end < 0 ? xml.length : end);
      if (raw.includes(']]>')) fail(']]> in character data');
      const text = decode(raw);
      const open = stack.at(-1);
      if (open === undefined && text.trim() !== '') fail('text outside the root element');
      if (open !== undefined) open.text += text;
      pos += raw.length;
    }
  }
  assert.equal(stack.length, 0, `unclosed ${stack.map((e) => e.name).join(', ')}`);
  assert.equal(roots, 1, 'one root element');
  return elements;
}

function detectionsOf(fixture: string): Detection[] {
  const environment = {
    kind: 'ci' as const,
    source: 'CI variables (gitlab)',
    ci: { provider: 'gitlab', repository: 'acme/shop', workflow: 'pipeline', job: 'test', runId: '42' },
  };
  return replayFixture(fixture, { environment }).closed;
}

function attributesOf(elements: readonly XmlElement[], name: string): ReadonlyMap<string, string>[] {
  return elements.filter((e) => e.name === name).map((e) => e.attributes);
}

describe('buildJunit', () => {
  test('sysctl -a and a shell audit loop (golden)', () => {
    const detections = [...detectionsOf('sysctl-a.strace'), ...detectionsOf('audit-cat-loop.strace')];
    assert.equal(detections.length, 2);
    const xml = buildJunit(detections, BUILTIN_RECIPES, 'tripline');
    assertGolden('junit-sysctl-a.xml', xml);
    const elements = parseXml(xml);
    const [suites] = attributesOf(elements, 'testsuites');
    assert.ok(suites);
    assert.equal(suites.get('tests'), '2');
    assert.equal(suites.get('failures'), '2');
    const names = attributesOf(elements, 'testcase').map((a) => a.get('name'));
    assert.deepEqual(names, ['os_network_fingerprint: sysctl -a', 'os_network_fingerprint: /tmp/measure/scripts/audit-cat.sh']);
    const failure = elements.find((e) => e.name === 'failure');
    assert.match(failure?.attributes.get('message') ?? '', /^os_network_fingerprint \(\w+\): sysctl -a \(pid \d+\) touched \d+ directories/);
    assert.match(failure?.text ?? '', /counted files \(\d+\):\n {2}\/proc\/sys\/net\//);
  });

  test('no detection: every recipe passes', () => {
    const [builtin] = BUILTIN_RECIPES;
    assert.ok(builtin);
    const recipes: Recipe[] = [builtin, { ...builtin, id: 'other_recipe', name: 'Other & "quoted" <recipe>' }];
    const elements = parseXml(buildJunit([], recipes, 'tripline'));
    const [suite] = attributesOf(elements, 'testsuite');
    assert.ok(suite);
    assert.equal(suite.get('tests'), '2');
    assert.equal(suite.get('failures'), '0');
    assert.equal(elements.filter((e) => e.name === 'failure').length, 0);
    assert.deepEqual(attributesOf(elements, 'testcase').map((a) => [a.get('classname'), a.get('name')]), [
      ['tripline.os_network_fingerprint', `os_network_fingerprint: ${builtin.name}`],
      ['tripline.other_recipe', 'other_recipe: Other & "quoted" <recipe>'],
    ]);
  });

  test('a repeated command gets a distinct test case name; a recipe not in the list still appears', () => {
    const [d] = detectionsOf('sysctl-a.strace');
    assert.ok(d);
    const other = { ...d, recipe: { ...d.recipe, id: 'gone_recipe' } };
    const elements = parseXml(buildJunit([d, { ...d, subject: { ...d.subject, process: { ...d.subject.process, pid: 77 } } }, other], BUILTIN_RECIPES, 's'));
    assert.deepEqual(attributesOf(elements, 'testcase').map((a) => a.get('name')), [
      'os_network_fingerprint: sysctl -a', 'os_network_fingerprint: sysctl -a #2', 'gone_recipe: sysctl -a',
    ]);
    assert.match(elements.filter((e) => e.name === 'failure')[1]?.attributes.get('message') ?? '', /\(pid 77\)/);
  });

  test('hostile text stays well-formed XML and reads back as visible text', () => {
    const [d] = detectionsOf('sysctl-a.strace');
    assert.ok(d);
    const argv = ['sh', '-c', `echo "x" 'y' \u0000 \u001b[31mred ]]> </failure><script>alert(1)</script> &amp; &#0; \ud800 \uffff`];
    const hostile: Detection = {
      ...d,
      subject: { ...d.subject, process: { ...d.subject.process, comm: '</failure><script>', argv, cwd: '/tmp/]]>\u0007' } },
      evidence: { ...d.evidence, directories: ['/proc/sys/net/</testcase>', ...d.evidence.directories] },
      guidance: { ...d.guidance, implications: `ran ${argv.join(' ')} \ufffe`, actions: ['"quoted" & \'single\'', ']]>'] },
    };
    const xml = buildJunit([hostile], BUILTIN_RECIPES, 'suite \u0000 <x> "&"');
    const elements = parseXml(xml);
    assert.deepEqual(elements.map((e) => e.name), ['testsuites', 'testsuite', 'testcase', 'failure']);
    assert.equal(elements[0]?.attributes.get('name'), 'suite \\x00 <x> "&"');
    const failure = elements[3];
    assert.ok(failure);
    const message = failure.attributes.get('message') ?? '';
    assert.ok(!message.includes('\n'), 'one-line message');
    assert.ok(message.includes('\\x1b[31mred ]]> </failure><script>alert(1)</script> &amp; &#0; \\ud800 \\uffff'), message);
    assert.ok(failure.text.includes('</testcase>'));
    assert.ok(failure.text.includes('/tmp/]]>\\x07'));
    assert.ok(failure.text.includes('\\ufffe'));
    assert.ok(failure.text.includes(`1. "quoted" & 'single'\n  2. ]]>`));
  });

  test('the failure body reports the process, ancestry, directories, counted files and guidance', () => {
    const [d] = detectionsOf('audit-cat-loop.strace');
    assert.ok(d);
    const failure = parseXml(buildJunit([d], BUILTIN_RECIPES, 'tripline')).find((e) => e.name === 'failure');
    const text = failure?.text ?? '';
    assert.ok(text.includes(`process: pid ${d.subject.process.pid} /tmp/measure/scripts/audit-cat.sh`));
    for (const dir of d.evidence.directories) assert.ok(text.includes(`\n  ${dir}\n`), dir);
    for (const f of d.evidence.files.filter((x) => x.counted)) assert.ok(text.includes(`  ${f.path}  `), f.path);
    assert.ok(text.includes(`meaning: ${d.guidance.implications}`));
    for (const a of d.guidance.actions) assert.ok(text.includes(a), a);
  });
});

describe('bounds (a JUnit output under a long watch)', () => {
  test('cases are kept up to the text bound; the rest are counted in one more failing case, and the XML stays well-formed', () => {
    const [d] = detectionsOf('sysctl-a.strace');
    assert.ok(d);
    const many = Array.from({ length: 1_000 }, (_, i) => ({ ...d, id: `det-${String(i)}` }));
    const elements = parseXml(buildJunit(many, BUILTIN_RECIPES, 'tripline'));
    const failures = elements.filter((e) => e.name === 'failure');
    const listed = failures.filter((f) => f.attributes.get('type') !== 'omitted');
    assert.ok(listed.length > 10 && listed.length < many.length, `some, not all: ${String(listed.length)}`);
    assert.ok(listed.reduce((n, f) => n + f.text.length, 0) <= MAX_JUNIT_TEXT * 1.1, 'within the text bound (escaping aside)');
    const omitted = failures.filter((f) => f.attributes.get('type') === 'omitted');
    assert.equal(omitted.length, 1);
    const rest = many.length - listed.length;
    assert.match(omitted[0]?.attributes.get('message') ?? '', new RegExp(`^os_network_fingerprint: ${String(rest)} more detection\\(s\\) not listed`));
    const [suite] = attributesOf(elements, 'testsuite');
    assert.equal(suite?.get('failures'), String(listed.length + 1), 'CI still sees a failure for what is not listed');
  });

  test('small detections are kept up to the case bound', () => {
    const [d] = detectionsOf('sysctl-a.strace');
    assert.ok(d);
    const small: Detection = {
      ...d, evidence: { ...d.evidence, files: [], directories: [] }, subject: { ...d.subject, ancestry: [], members: [] },
      guidance: { ...d.guidance, implications: 'x', actions: [] },
    };
    const many = Array.from({ length: MAX_JUNIT_CASES + 7 }, (_, i) => ({ ...small, id: `det-${String(i)}` }));
    const xml = buildJunit(many, BUILTIN_RECIPES, 'tripline');
    assert.equal(xml.match(/<failure /g)?.length, MAX_JUNIT_CASES + 1);
    assert.ok(xml.includes('name="os_network_fingerprint: 7 more detection(s) not listed"'));
  });
});

describe('XML escaping', () => {
  test('markup characters and characters XML forbids', () => {
    assert.equal(escapeXmlText(`<a href="x">&'</a>`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;');
    assert.equal(escapeXmlText(']]>'), ']]&gt;');
    assert.equal(escapeXmlText('\u0000\u0008\u000b\u000c\u000e\u001f\ufffe\uffff'), '\\x00\\x08\\x0b\\x0c\\x0e\\x1f\\ufffe\\uffff');
    assert.equal(escapeXmlText('a\nb\tc\rd'), 'a\nb\tc&#13;d');
    assert.equal(escapeXmlAttribute('a\nb\tc\rd'), 'a&#10;b&#9;c&#13;d');
  });
  test('lone surrogates are escaped, pairs are kept', () => {
    assert.equal(escapeXmlText('\ud800x\udfff'), '\\ud800x\\udfff');
    assert.equal(escapeXmlText('😀 é ☃'), '😀 é ☃');
  });
});

describe('JunitOutput', () => {
  test('writes the file at close (the session redacts before any output; the file keeps what it is given)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tripline-junit-'));
    try {
      const [d] = detectionsOf('sysctl-a.strace');
      assert.ok(d);
      const path = join(dir, 'report.xml');
      const output = new JunitOutput({ path, recipes: BUILTIN_RECIPES, name: 'nightly' });
      assert.equal(output.name, `junit ${path}`);
      output.closed(redactDetection({ ...d, subject: { ...d.subject, process: { ...d.subject.process, argv: ['deploy', '--token', 'hunter2secret'] } } }));
      output.close();
      const xml = readFileSync(path, 'utf8');
      const elements = parseXml(xml);
      assert.equal(elements[0]?.attributes.get('name'), 'nightly');
      assert.ok(!xml.includes('hunter2secret'));
      assert.ok(xml.includes('deploy --token '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sensor loss', () => {
  test('an incomplete detection says so in its failure message and body; a complete one does not', () => {
    const [d] = detectionsOf('sysctl-a.strace');
    assert.ok(d);
    const gap = { start: d.evidence.first, end: null };
    const lossy: Detection = { ...d, id: 'lossy', sensor: { name: 'bpftrace', version: '0.20.2', eventsLost: 12, gaps: [gap], complete: false } };
    const failures = parseXml(buildJunit([d, lossy], BUILTIN_RECIPES, 'tripline')).filter((e) => e.name === 'failure');
    const [complete, incomplete] = failures;
    assert.ok(complete && incomplete);
    assert.doesNotMatch(complete.attributes.get('message') ?? '', /incomplete/);
    assert.doesNotMatch(complete.text, /incomplete|lost/);
    assert.match(incomplete.attributes.get('message') ?? '', /touched 37 directories under \/proc\/sys\/net; evidence may be incomplete \(12 events lost, sensor down\)$/);
    assert.match(incomplete.text, /\nsensor: evidence may be incomplete: 12 events lost while this process ran; sensor down from \d\d:\d\d:\d\d \(not back when this was written\) UTC\nwhat: /);
  });
});
