// The schema's revision fields: every revision the engine makes of a growing detection validates
// (the sysctl -a recording grows for 1.4 s after it opens: open, updated, closed), `revision` and
// `state` come together or not at all (an event written before revisions has neither), and
// their values are checked.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv2020, type SchemaObject } from 'ajv/dist/2020.js';
import { replayFixture } from './replay-strace-fixture.ts';

const validate = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true })
  .addFormat('date-time', { type: 'string', validate: (v: string) => !Number.isNaN(Date.parse(v)) })
  .compile(JSON.parse(readFileSync(new URL('../schema/detection-v1.schema.json', import.meta.url), 'utf8')) as SchemaObject);

test('a growing detection: open, updated, closed, one id, revisions 1, 2, 3, each valid', () => {
  const outputs = replayFixture('sysctl-a.strace').outputs;
  assert.deepEqual(outputs.map((o) => [o.type, o.detection.revision, o.detection.state]), [['opened', 1, 'open'], ['updated', 2, 'updated'], ['closed', 3, 'closed']]);
  assert.equal(new Set(outputs.map((o) => o.detection.id)).size, 1);
  for (const o of outputs) assert.ok(validate(JSON.parse(JSON.stringify(o.detection))), JSON.stringify(validate.errors));
});

test('revision and state: both or neither, and only their values', () => {
  const [d] = replayFixture('sysctl-a.strace').closed;
  assert.ok(d);
  const without: Record<string, unknown> = { ...d };
  delete without.revision;
  delete without.state;
  assert.ok(validate(without), 'an event written before revisions');
  assert.ok(!validate({ ...without, revision: 2 }), 'a revision without a state');
  assert.ok(!validate({ ...without, state: 'closed' }), 'a state without a revision');
  assert.ok(!validate({ ...d, revision: 0 }));
  assert.ok(!validate({ ...d, revision: 1.5 }));
  assert.ok(!validate({ ...d, state: 'final' }));
});
