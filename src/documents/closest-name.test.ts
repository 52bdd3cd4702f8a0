// "Did you mean": the same answers as the full edit-distance table, at any input size.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { closestName } from './closest-name.ts';

/** The textbook version (whole table), as closestName was first written: the reference. */
function referenceDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const up = d[i - 1] as number[];
      let v = Math.min((up[j] as number) + 1, (row[j - 1] as number) + 1, (up[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, (d[i - 2]?.[j - 2] as number) + 1);
      row[j] = v;
    }
  }
  return d[a.length]?.[b.length] ?? 0;
}

function referenceClosest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = referenceDistance(name.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

test('typos find their key; unrelated names find nothing', () => {
  assert.equal(closestName('nmae', ['id', 'name', 'description']), 'name');
  assert.equal(closestName('threshhold', ['threshold', 'scopes']), 'threshold');
  assert.equal(closestName('Aggregate', ['aggregate', 'match']), 'aggregate');
  assert.equal(closestName('completely_different', ['id', 'name']), undefined);
});

test('the same answer as the full table, for any name and candidates (ASCII)', () => {
  const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', '_'), maxLength: 12 });
  fc.assert(fc.property(word, fc.array(word, { maxLength: 8 }), (name, candidates) => {
    assert.equal(closestName(name, candidates), referenceClosest(name, candidates));
  }), { numRuns: 2000 });
});
