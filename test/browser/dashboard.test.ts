// The dashboard in a real browser (Debian's chromium driven by playwright-core) over a store
// written by real `tripline run`s under strace: the page shows the detection, the detail opens
// with its tree, evidence, timeline and MITRE links, a second run arrives live, a process
// named like HTML stays text, and a server on a non-loopback address refuses a request
// without its token. TRIPLINE_SCREENSHOTS=1 (npm run screenshots) writes docs/img/.

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Dialog, Page } from 'playwright-core';
import { cleanEnv, describeRun, REPO_DIR, runTripline, TEST_TIMEOUT, THREE_FILES, NET, type TriplineResult } from '../e2e/run-tripline.ts';
import { startServe, type ServeProcess } from './serve-process.ts';

const CHROMIUM = '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (Debian's chromium package; .ci/run installs it)`;
const SCREENSHOTS = process.env.TRIPLINE_SCREENSHOTS === '1';
const FILES = THREE_FILES.map((f) => `${NET}/${f}`);
const HOSTILE_NAME = '<img src=x onerror=alert(1)>';
const TOKEN = 'YnJvd3Nlci10ZXN0LXRva2VuLTAxMjM0NTY3';

/** A non-loopback IPv4 address of this machine, undefined when it has none. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** Status of a GET without any credential. */
function statusWithoutToken(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpRequest(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject).end();
  });
}

void describe('dashboard in chromium', { skip: SKIP }, () => {
  let dir: string;
  let store: string;
  let serve: ServeProcess | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  const problems: string[] = [];

  /** `tripline run --store STORE -- COMMAND`, which must make one detection. */
  async function run(command: readonly string[]): Promise<TriplineResult> {
    const r = await runTripline(command, { dir, options: ['--store', store] });
    assert.equal(r.detections.length, 1, describeRun(r));
    return r;
  }

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'tripline-browser-')));
    store = join(dir, 'store', 'tripline.db');
    const { chromium } = await import('playwright-core');
    // No background traffic of Chromium's own (updates, sync, QUIC probes): a CI machine's closed
    // network refuses it, and the page under test is the only thing that should talk.
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await serve?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openPage(url: string): Promise<Page> {
    assert.ok(browser !== undefined, 'chromium did not start');
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, timezoneId: 'UTC', locale: 'en-US' });
    const p = await context.newPage();
    p.on('dialog', (d: Dialog) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    p.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    // Nothing but the dashboard's own origin is ever asked for (the chart is bundled).
    p.on('request', (r) => { if (!r.url().startsWith(new URL(url).origin)) problems.push(`request to another origin: ${r.url()}`); });
    await p.goto(url);
    return p;
  }

  void test('a real run makes a detection and the page lists it', { timeout: TEST_TIMEOUT }, async () => {
    // A shell that runs cat (and is still there after it): an ancestry of two in the tree.
    const r = await run(['sh', '-c', 'cat "$@"; true', 'sh', ...FILES]);
    const d = r.detections[0];
    assert.ok(d !== undefined);
    serve = await startServe(['--store', store]);
    page = await openPage(serve.url);
    const row = page.locator('#detections-body tr', { hasText: 'cat' });
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.match(await row.first().innerText(), /os_network_fingerprint/);
    assert.equal(await page.locator('#detections-body tr').first().getAttribute('data-id'), d.id);
    // The chart drew (uPlot's canvas) and the host table names this host with a health verdict.
    await page.locator('#chart canvas').first().waitFor();
    await page.locator('#hosts-body tr', { hasText: d.host.hostname }).waitFor();
    await page.locator('#live-status[data-state="live"]').waitFor();
  });

  void test('the filters narrow the list and keep the choice in the URL', { timeout: TEST_TIMEOUT }, async () => {
    await page.selectOption('#filter-importance', 'critical');
    await page.locator('#detections-empty').waitFor({ state: 'visible' });
    assert.match(page.url(), /\?importance=critical$/);
    // A reload (or a shared link) shows the same view.
    await page.reload();
    await page.locator('#detections-empty').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#filter-importance').inputValue(), 'critical');
    await page.click('#filter-reset');
    await page.locator('#detections-body tr').first().waitFor();
    assert.equal(new URL(page.url()).search, '');
  });

  void test('the detail opens: ancestry tree, evidence, timeline, MITRE links, guidance', { timeout: TEST_TIMEOUT }, async () => {
    // By keyboard: the row's link takes the focus and Enter opens it.
    await page.locator('#detections-body tr', { hasText: 'cat' }).locator('a.process-link').focus();
    await page.keyboard.press('Enter');
    await page.locator('#detail-title').waitFor();
    assert.match(page.url(), /#\/detection\//);
    assert.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'detail-title', 'focus moves to the detail for keyboard users');
    assert.ok(await page.locator('#overview').isHidden());
    const tree = page.locator('ul.tree');
    assert.match(await tree.innerText(), /sh[\s\S]*cat/, 'the shell above cat');
    assert.equal(await tree.locator('.process-subject').count(), 1);
    for (const f of FILES) await page.locator('table.evidence code', { hasText: f }).waitFor();
    assert.ok(await page.locator('svg.timeline g.access').count() >= 3);
    assert.equal(await page.locator('a[href="https://attack.mitre.org/tactics/TA0007/"]').count(), 1);
    assert.equal(await page.locator('a[href="https://attack.mitre.org/techniques/T1082/"]').count(), 1);
    // The built-in recipe's docs/recipes/… page, on the project's site (documentation-link.ts).
    assert.equal(await page.locator('a[href="https://github.com/tripline-dev/tripline/blob/main/docs/recipes/os_network_fingerprint.md"]', { hasText: 'documentation' }).count(), 1);
    assert.ok(await page.locator('ol.actions li').count() >= 1);
    assert.match(await page.locator('#detail-body').innerText(), /Revisions/);
    if (SCREENSHOTS) {
      mkdirSync(join(REPO_DIR, 'docs', 'img'), { recursive: true });
      await page.screenshot({ path: join(REPO_DIR, 'docs', 'img', 'dashboard-detail.png'), fullPage: true });
    }
    await page.locator('a.back').click();
    await page.locator('#overview').waitFor({ state: 'visible' });
  });

  void test('a second run while the page is open arrives live, without a reload', { timeout: TEST_TIMEOUT }, async () => {
    await page.evaluate('window.stayed = true');
    const r = await run(['head', '-q', ...FILES]);
    const row = page.locator(`#detections-body tr[data-id="${r.detections[0]?.id ?? ''}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /head/);
    assert.equal(await page.evaluate('window.stayed'), true, 'the page was reloaded instead of updated');
    assert.equal(await page.locator('#detections-body tr').count(), 2);
    if (SCREENSHOTS) await page.screenshot({ path: join(REPO_DIR, 'docs', 'img', 'dashboard-list.png'), fullPage: true });
  });

  void test('a process named like HTML is shown as text and runs nothing', { timeout: TEST_TIMEOUT }, async () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const hostile = join(bin, HOSTILE_NAME);
    copyFileSync('/bin/cat', hostile);
    const r = await run([hostile, ...FILES]);
    const row = page.locator(`#detections-body tr[data-id="${r.detections[0]?.id ?? ''}"]`);
    await row.waitFor();
    // comm is the first 15 bytes of the name.
    assert.match(await row.innerText(), /<img src=x oner/);
    await row.locator('a.process-link').click();
    await page.locator('#detail-title').waitFor();
    await page.locator('#detail-body code', { hasText: hostile }).first().waitFor();
    assert.equal(await page.locator('img').count(), 0, 'an <img> element was made from a process name');
    assert.deepEqual(dialogs, [], 'a dialog opened');
    await page.locator('a.back').click();
  });

  void test('the page loaded nothing from elsewhere and broke no policy', () => {
    assert.deepEqual(problems, []);
  });

  const address = externalAddress();
  void test('on a non-loopback address: refused without a token; the ?token= visit works in the browser', { timeout: TEST_TIMEOUT, skip: address === undefined ? 'no non-loopback IPv4 address on this machine' : false }, async () => {
    await assert.rejects(startServe(['--store', store, '--host', address ?? '']), /a token is required/);
    const remote = await startServe(['--store', store, '--host', address ?? ''], cleanEnv({ TRIPLINE_SERVE_TOKEN: TOKEN }));
    try {
      assert.equal(new URL(remote.url).hostname, address);
      for (const path of ['', 'assets/app.js', 'api/detections', 'api/events']) assert.equal(await statusWithoutToken(`${remote.url}${path}`), 401, path);
      const p = await context.newPage();
      const refused = await p.goto(remote.url);
      assert.equal(refused?.status(), 401);
      assert.doesNotMatch(await p.content(), /os_network_fingerprint/);
      await p.goto(`${remote.url}?token=${TOKEN}`);
      assert.equal(p.url(), remote.url, 'the token left the address bar');
      await p.locator('#detections-body tr').first().waitFor();
      assert.equal(await p.locator('#detections-body tr').count(), 3);
      // The event stream passes with the cookie too.
      await p.locator('#live-status[data-state="live"]').waitFor();
      // The browser keeps a session id, never the token: it sends its cookies to every port of
      // this address, so another service there must not learn the token from them.
      const cookies = await context.cookies(remote.url);
      assert.ok(cookies.every((c) => !c.value.includes(TOKEN)), 'a cookie holds the token');
      const cookie = cookies.find((c) => c.name === 'tripline_session');
      assert.equal(cookie?.httpOnly, true);
      assert.equal(cookie.sameSite, 'Strict');
      assert.match(cookie.value, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(cookie.expires > Date.now() / 1000 && cookie.expires <= Date.now() / 1000 + 12 * 3600 + 60, 'the cookie outlives its session');
      await p.close();
    } finally {
      await remote.stop();
    }
  });
});
