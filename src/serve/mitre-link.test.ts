import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mitreUrl } from './mitre-link.ts';

void test('tactics, techniques and sub-techniques get their ATT&CK page', () => {
  assert.equal(mitreUrl('TA0007'), 'https://attack.mitre.org/tactics/TA0007/');
  assert.equal(mitreUrl('T1082'), 'https://attack.mitre.org/techniques/T1082/');
  assert.equal(mitreUrl('T1059.004'), 'https://attack.mitre.org/techniques/T1059/004/');
});

void test('anything else gets no link (ids from other hosts are attacker-controlled)', () => {
  for (const id of ['', 'TA7', 'T1082/../../evil', 'javascript:alert(1)', 'T1082.1', ' T1082', 'T1082\n', 'ta0007', 'TA0007?x=1']) {
    assert.equal(mitreUrl(id), undefined, JSON.stringify(id));
  }
});
