// The committed dashboard/ is what the sources build to: a change to src/serve/web/ without
// `npm run build:dashboard` fails here, not in a user's browser.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DASHBOARD_DIR, loadDashboardAssets } from './dashboard-assets.ts';

interface BuildModule {
  readonly buildDashboard: (outDir: string) => Promise<string[]>;
}

void test('dashboard/ is up to date with src/serve/web/ (npm run build:dashboard)', async () => {
  const { buildDashboard } = (await import(new URL('../../scripts/build-dashboard.js', import.meta.url).href)) as BuildModule;
  const dir = mkdtempSync(join(tmpdir(), 'tripline-dashboard-'));
  try {
    const files = await buildDashboard(dir);
    assert.deepEqual(readdirSync(dir).sort(), [...files].sort());
    assert.deepEqual(readdirSync(DASHBOARD_DIR).sort(), [...files].sort(), 'dashboard/ holds other files than the build makes');
    for (const f of files) {
      assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(DASHBOARD_DIR, f))), `dashboard/${f} differs from a fresh build: run npm run build:dashboard and commit it`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('the bundle holds no HTML sink and loads nothing from another origin', () => {
  const js = readFileSync(join(DASHBOARD_DIR, 'app.js'), 'utf8');
  for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function']) {
    assert.ok(!js.includes(sink), `app.js uses ${sink}`);
  }
  const css = readFileSync(join(DASHBOARD_DIR, 'app.css'), 'utf8');
  assert.doesNotMatch(css, /@import|url\(\s*['"]?(https?:)?\/\//, 'app.css reaches another origin');
});

void test('every asset is found and typed; a missing one is named', () => {
  const assets = loadDashboardAssets();
  assert.deepEqual([...assets.keys()].sort(), ['/', '/assets/THIRD-PARTY-LICENSES.txt', '/assets/app.css', '/assets/app.js']);
  assert.throws(() => loadDashboardAssets('/nonexistent/'), /index\.html cannot be read in \/nonexistent\/.*npm run build:dashboard/);
});
