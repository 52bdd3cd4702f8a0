import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { PACKAGE_ROOT, PROJECT_URL } from '../model/tripline-project.ts';
import { DOCUMENTATION_BASE, documentationUrl, PROJECT_SITE } from './documentation-link.ts';

void describe('recipe documentation links on the dashboard', () => {
  void test('the project site is the one the rest of tripline names', () => {
    assert.equal(PROJECT_SITE, PROJECT_URL);
  });
  void test('every built-in recipe\'s documentation is linked, to a page the package holds', () => {
    const dir = join(PACKAGE_ROOT, 'recipes', 'builtin');
    let seen = 0;
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
      const documentation = /^documentation:\s*(\S+)\s*$/m.exec(readFileSync(join(dir, name), 'utf8'))?.[1];
      if (documentation === undefined) continue;
      seen += 1;
      const url = documentationUrl(documentation);
      assert.ok(url !== undefined, `${name}: ${documentation} is not linked`);
      assert.ok(url.startsWith(DOCUMENTATION_BASE), url);
      assert.ok(existsSync(join(PACKAGE_ROOT, 'docs', url.slice(DOCUMENTATION_BASE.length))), `${name}: ${url} names no file under docs/`);
    }
    assert.ok(seen > 0, 'no built-in recipe names its documentation');
  });
  void test('docs/ paths and the project\'s documentation URLs are linked', () => {
    assert.equal(documentationUrl('docs/recipes/os_network_fingerprint.md'), `${PROJECT_URL}/blob/main/docs/recipes/os_network_fingerprint.md`);
    assert.equal(documentationUrl('./docs/recipes/x.md'), `${PROJECT_URL}/blob/main/docs/recipes/x.md`);
    const url = `${PROJECT_URL}/blob/main/docs/recipes/os_network_fingerprint.md`;
    assert.equal(documentationUrl(url), url);
    assert.equal(documentationUrl(`${url}#what-to-do`), `${url}#what-to-do`);
  });
  void test('anything else is text: other sites, look-alikes, escapes, dot segments, local paths, other schemes', () => {
    for (const d of [
      'https://evil.example/docs/recipes/x.md',
      'https://github.com/evil/tripline/blob/main/docs/x.md',
      'https://github.com/tripline-dev/tripline.evil.example/blob/main/docs/x.md',
      'https://github.com/tripline-dev/tripline/issues/1',
      'https://github.com/tripline-dev/tripline/blob/evil-branch/docs/x.md',
      'https://github.com/tripline-dev/tripline/blob/main/docs/../../../../evil/repo/x.md',
      'https://github.com/tripline-dev/tripline/blob/main/docs/%2e%2e/%2e%2e/x.md',
      'https://github.com/tripline-dev/tripline/blob/main/docs/..%2F..%2Fx.md',
      'https://github.com/tripline-dev/tripline/blob/main/docs/x.md?redirect=https://evil.example',
      'https://github.com/tripline-dev/tripline/blob/main/docs/x.md#"><script>',
      'https://github.com/tripline-dev/tripline/blob/main/docs/',
      'https://github.com/tripline-dev/tripline/blob/main/docs/a//b.md',
      'https://github.com/tripline-dev/tripline/blob/main/docs/a\\b.md',
      'https://github.com@evil.example/tripline-dev/tripline/blob/main/docs/x.md',
      'https://user:pw@github.com/tripline-dev/tripline/blob/main/docs/x.md',
      'https://github.com:8443/tripline-dev/tripline/blob/main/docs/x.md',
      'http://github.com/tripline-dev/tripline/blob/main/docs/x.md',
      'HTTPS://GITHUB.COM/tripline-dev/tripline/blob/main/docs/x.md',
      'javascript:alert(1)//https://github.com/tripline-dev/tripline/blob/main/docs/x.md',
      'docs/../../etc/passwd', 'docs/', 'docs//x.md', 'docs/a b.md', 'docs/x.md?x=1',
      '/usr/lib/node_modules/tripline/docs/recipes/x.md', 'file:///etc/passwd', '../docs/x.md', 'recipes/x.md', '',
    ]) assert.equal(documentationUrl(d), undefined, d);
  });
  void test('property: whatever is linked is under the project\'s documentation', () => {
    const tail = fc.string({ maxLength: 40 });
    fc.assert(fc.property(fc.oneof(tail, tail.map((t) => `${DOCUMENTATION_BASE}${t}`), tail.map((t) => `docs/${t}`)), (d) => {
      const url = documentationUrl(d);
      if (url === undefined) return true;
      const parsed = new URL(url);
      return parsed.href === url && `${parsed.origin}${parsed.pathname}`.startsWith(DOCUMENTATION_BASE) && !parsed.pathname.split('/').includes('..');
    }));
  });
});
