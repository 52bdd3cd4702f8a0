import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_LIMIT, parseDetectionId, parseListQuery, parseNoQuery, parseSince, parseStatsQuery, QueryError } from './api-query.ts';

const NOW = Date.parse('2026-12-01T06:00:00Z');
const list = (q: string): ReturnType<typeof parseListQuery> => parseListQuery(new URLSearchParams(q), NOW);

/** Asserts the query is refused naming `parameter`, with a message matching `message`. */
function refused(fn: () => unknown, parameter: string, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof QueryError, String(error));
    assert.equal(error.parameter, parameter);
    assert.ok(error.message.startsWith(`parameter ${parameter}: `), error.message);
    assert.match(error.message, message);
    return true;
  });
}

void describe('list and stats filters', () => {
  void test('every filter maps onto the store filter', () => {
    const q = list('host=web-1&recipe=os_network_fingerprint&importance=medium&environment=production&container=ns/pod-a&since=24h&limit=50');
    assert.deepEqual(q.host, ['web-1']);
    assert.deepEqual(q.recipe, ['os_network_fingerprint']);
    assert.deepEqual(q.importance, ['medium', 'high', 'critical']);
    assert.deepEqual(q.environment, ['production']);
    assert.equal(q.container, 'ns/pod-a');
    assert.equal(q.since?.getTime(), NOW - 86_400_000);
    assert.equal(q.limit, 50);
  });
  void test('nothing given: no filter and the default limit', () => {
    assert.deepEqual(list(''), { limit: DEFAULT_LIMIT });
    assert.deepEqual(parseStatsQuery(new URLSearchParams(''), NOW), {});
  });
  void test('bad values are refused naming the parameter and what is taken', () => {
    refused(() => list('importance=severe'), 'importance', /low, medium, high, critical/);
    refused(() => list('environment=prod'), 'environment', /ci, staging, production, development, unknown/);
    refused(() => list('since=yesterday'), 'since', /ISO 8601/);
    refused(() => list('since=2026-13-45'), 'since', /not a time/);
    refused(() => list('since=2026-12-01T04:00:00'), 'since', /with a zone/);
    refused(() => list('limit=0'), 'limit', /1 to 1000/);
    refused(() => list('limit=1001'), 'limit', /1 to 1000/);
    refused(() => list('limit=ten'), 'limit', /1 to 1000/);
    refused(() => list('limit=-5'), 'limit', /1 to 1000/);
    refused(() => list(`host=${'h'.repeat(321)}`), 'host', /longer than 320/);
    refused(() => list('container=a%0Ab'), 'container', /control characters/);
    refused(() => list('cursor=%20x'), 'cursor', /nextCursor/);
  });
  void test('an unknown, repeated or empty parameter is refused by name', () => {
    refused(() => list('hots=web'), 'hots', /unknown; this endpoint takes host, recipe/);
    refused(() => list('host=a&host=b'), 'host', /more than once/);
    refused(() => list('host='), 'host', /empty/);
    refused(() => parseStatsQuery(new URLSearchParams('limit=5'), NOW), 'limit', /unknown/);
    refused(() => { parseNoQuery(new URLSearchParams('x=1')); }, 'x', /unknown/);
  });
  void test('an unknown parameter\'s name is quoted with its control characters escaped', () => {
    refused(() => list('a%1B%5B31m=1'), 'a\\u001b[31m', /unknown/);
  });
});

void describe('since', () => {
  void test('durations back from now, dates and date-times with a zone', () => {
    assert.equal(parseSince('30m', NOW), NOW - 30 * 60_000);
    assert.equal(parseSince('7d', NOW), NOW - 7 * 86_400_000);
    assert.equal(parseSince('2w', NOW), NOW - 14 * 86_400_000);
    assert.equal(parseSince('2026-12-01', NOW), Date.parse('2026-12-01T00:00:00Z'));
    assert.equal(parseSince('2026-12-01T05:00:00+01:00', NOW), Date.parse('2026-12-01T04:00:00Z'));
    assert.equal(parseSince('2026-12-01T04:00:00.5Z', NOW), Date.parse('2026-12-01T04:00:00.500Z'));
  });
});

void describe('detection ids', () => {
  void test('percent-decoded; any text up to 256 characters without control characters', () => {
    assert.equal(parseDetectionId('abc-1'), 'abc-1');
    assert.equal(parseDetectionId('a%2Fb%20c'), 'a/b c');
    refused(() => parseDetectionId('%E0%A4%A'), 'id', /percent-encoded/);
    refused(() => parseDetectionId('a%00b'), 'id', /control/);
    refused(() => parseDetectionId('x'.repeat(257)), 'id', /256/);
  });
});
