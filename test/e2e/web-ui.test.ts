// The web page at /ui/, driven by a real browser (Debian's chromium through puppeteer-core, no
// browser download): sign in, browse repositories across pages, a repository's tags, an image with
// hostile labels, a multi-arch index, a signed image's referrers, copy a pull command; the security
// headers; an accessibility check (axe-core) on each page, light and dark. Screenshots go to
// REGATE_UI_SCREENSHOTS when set (that is how docs/images/ui-*.png were made), else to a temp dir.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { startGateway, sha256, type Gateway } from '../support/gateway.js';
import { buildOciImage, buildOciIndex, type BuiltImage } from '../support/image-builder.js';
import { wrapDriver } from '../../src/storage/base-driver.js';
import { FilesystemDriver } from '../../src/storage/drivers/filesystem.js';
import { collectGarbage } from '../../src/storage/gc.js';

const CHROMIUM = '/usr/bin/chromium';
const USER: [string, string] = ['alice', 'wonderland-7'];
/** What a pusher may write into labels and annotations: shown as text, never run. */
const HOSTILE = '<img src=x onerror="window.__xss=1"></script><script>window.__xss=2</script>';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const SIGNATURE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

let gw: Gateway;
let browser: Browser;
let work: string;
let shots: string;
let axeSource: string;

async function pushBlob(name: string, bytes: Buffer): Promise<void> {
  const res = await gw.send('POST', `/v2/${name}/blobs/uploads/?digest=${sha256(bytes)}`, { auth: USER, body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(res.status, 201, res.text());
}

async function putManifest(name: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const res = await gw.send('PUT', `/v2/${name}/manifests/${reference}`, { auth: USER, body: bytes, headers: { 'Content-Type': mediaType } });
  assert.equal(res.status, 201, res.text());
}

/** Pushes every blob, then the platform manifests by digest, then the top one under `tag`. */
async function pushBuilt(name: string, tag: string, image: BuiltImage): Promise<void> {
  const manifests = new Set(image.manifests.map((m) => m.digest));
  for (const blob of image.blobs.values()) if (!manifests.has(blob.digest)) await pushBlob(name, blob.bytes);
  for (const m of image.manifests.slice(1)) await putManifest(name, m.digest, m.bytes, m.mediaType);
  await putManifest(name, tag, image.top.bytes, image.top.mediaType);
}

/** A signature-like artifact that refers to `subject` (an OCI 1.1 referrer). */
async function pushReferrer(name: string, subject: { digest: string; size: number; mediaType: string }): Promise<void> {
  const empty = Buffer.from('{}');
  const bundle = Buffer.from(JSON.stringify({ note: 'a stand-in signature bundle' }));
  await pushBlob(name, empty);
  await pushBlob(name, bundle);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: SIGNATURE_TYPE,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(empty), size: empty.length },
    layers: [{ mediaType: SIGNATURE_TYPE, digest: sha256(bundle), size: bundle.length }],
    subject,
  }));
  await putManifest(name, sha256(manifest), manifest, OCI_MANIFEST);
}

async function newPage(dark = false): Promise<Page> {
  const page = await browser.newPage();
  await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: dark ? 'dark' : 'light' }]);
  await page.setViewport({ width: 1100, height: 900 });
  return page;
}

/** Signs in with the page's form unless the browser already has a session there. */
async function signIn(page: Page, origin: string = gw.url, user: [string, string] = USER): Promise<void> {
  await page.goto(`${origin}/ui/`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#signin-user, #account span');
  if ((await page.$('#signin-user')) === null) return;
  await page.type('#signin-user', user[0]);
  await page.type('#signin-password', user[1]);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('#account span');
}

/** axe-core's serious and critical findings on the page as it is (run with the CSP set aside for the check's own script only). */
async function accessibilityProblems(page: Page): Promise<string[]> {
  const cdp = await page.createCDPSession();
  await cdp.send('Page.setBypassCSP', { enabled: true });
  await page.evaluate(axeSource);
  const results = (await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, options: unknown) => Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: unknown[] }> }> } }).axe;
    return axe.run(document, { resultTypes: ['violations'] });
  })) as { violations: Array<{ id: string; impact: string; help: string; nodes: unknown[] }> };
  await cdp.detach();
  return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} ×${v.nodes.length}`);
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`) as `${string}.png`, fullPage: false });
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), 'Debian chromium is installed (scripts/install-test-deps.sh)');
  work = mkdtempSync(join(tmpdir(), 'regate-web-ui-'));
  shots = process.env.REGATE_UI_SCREENSHOTS ?? join(work, 'screenshots');
  mkdirSync(shots, { recursive: true });
  axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  gw = await startGateway({ users: { [USER[0]]: USER[1] } });
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    acceptInsecureCerts: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--ignore-certificate-errors', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  await gw?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the web page at /ui/', () => {
  it('serves a shell that holds no data (the data is behind auth) with a Content-Security-Policy that allows no inline script and no framing', async () => {
    assert.equal((await gw.send('GET', '/v2/_catalog')).status, 401);
    assert.equal((await gw.send('GET', '/ui/session', { headers: { 'X-Regate-Page': '1' } })).status, 401);
    const page = await gw.send('GET', '/ui/');
    assert.equal(page.status, 200);
    assert.match(page.header('content-type') ?? '', /^text\/html/);
    const csp = page.header('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /default-src 'none'/);
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
    assert.equal(page.header('x-content-type-options'), 'nosniff');
    assert.ok(!/<script>/i.test(page.text()) && !/ on\w+=/i.test(page.text()), 'no inline script or handler in the shell');
    const script = await gw.send('GET', '/ui/js/app.js', { auth: USER });
    assert.equal(script.status, 200);
    assert.match(script.header('content-type') ?? '', /^text\/javascript/);
    assert.ok(!script.text().includes('innerHTML'), 'the page never parses markup');
    assert.equal((await gw.send('GET', '/ui', { auth: USER })).header('location'), '/ui/');
    assert.equal((await gw.send('GET', '/ui/js/../../v2/', { auth: USER })).status, 404);
    assert.equal((await gw.send('GET', '/ui/nothing.js', { auth: USER })).status, 404);
  });

  it('lists repositories page by page, opens a repository, a hostile image (shown as text, nothing runs), an index, a signed image; copies a pull command', async () => {
    // 55 repositories: two pages of the catalog (50 a page).
    const empty = Buffer.from('{}');
    for (let i = 0; i < 55; i++) {
      const name = `team/app-${String(i).padStart(2, '0')}`;
      await pushBlob(name, empty);
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(empty), size: 2 }, layers: [] }));
      await putManifest(name, 'v1', manifest, OCI_MANIFEST);
    }
    const hostile = buildOciImage({ dir: join(work, 'hostile'), seed: HOSTILE });
    await pushBuilt('web/hostile', 'latest', hostile);
    const multi = buildOciIndex({ dir: join(work, 'multi'), seed: 'web-ui-index' });
    await pushBuilt('web/multi', '1.0', multi);
    const signed = buildOciImage({ dir: join(work, 'signed'), seed: 'web-ui-signed' });
    await pushBuilt('web/signed', 'v2', signed);
    await pushReferrer('web/signed', { digest: signed.top.digest, size: signed.top.size, mediaType: signed.top.mediaType });

    const context = browser.defaultBrowserContext();
    await context.overridePermissions(gw.url, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
    const page = await newPage();
    await signIn(page);
    // Every API call the page makes succeeds (a refused one would show as a gap, not an error).
    const refused: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) refused.push(`${r.status()} ${r.url()}`);
    });
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${gw.url}/ui/`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('ul.names a');
    const firstPage = await page.$$eval('ul.names a', (links) => links.map((a) => a.textContent));
    assert.equal(firstPage.length, 50);
    assert.equal(firstPage[0], 'team/app-00');
    await screenshot(page, 'ui-repositories');
    assert.deepEqual(await accessibilityProblems(page), []);
    // The next page holds the rest, and the one before comes back.
    await page.click('nav.pager button:last-child');
    await page.waitForFunction(() => document.querySelector('ul.names a')?.textContent !== 'team/app-00');
    const secondPage = await page.$$eval('ul.names a', (links) => links.map((a) => a.textContent));
    assert.deepEqual(secondPage, ['team/app-50', 'team/app-51', 'team/app-52', 'team/app-53', 'team/app-54', 'web/hostile', 'web/multi', 'web/signed']);
    // The search asks the server for names that start with what is typed, across the catalog.
    await page.type('#search-repos', 'team/app-5');
    await page.waitForFunction(() => document.querySelectorAll('ul.names a').length === 5);
    assert.deepEqual(await page.$$eval('ul.names a', (links) => links.map((a) => a.textContent)), ['team/app-50', 'team/app-51', 'team/app-52', 'team/app-53', 'team/app-54']);
    await page.click('#search-repos', { count: 3 });
    await page.type('#search-repos', 'web/m');
    await page.waitForFunction(() => document.querySelector('ul.names a')?.textContent === 'web/multi' && document.querySelectorAll('ul.names a').length === 1);
    await page.click('#search-repos', { count: 3 });
    await page.type('#search-repos', 'nothing-like-it');
    await page.waitForFunction(() => /No repository name starts with/.test(document.querySelector('main')?.textContent ?? ''));

    // The hostile image: its label and annotation are text on the page, and nothing ran.
    await page.goto(`${gw.url}/ui/#/r/${encodeURIComponent('web/hostile')}`, { waitUntil: 'networkidle0' });
    await page.waitForFunction(() => document.querySelector('tbody td code') !== null);
    await screenshot(page, 'ui-tags');
    assert.deepEqual(await accessibilityProblems(page), []);
    await page.click('tbody th a');
    await page.waitForFunction(() => [...document.querySelectorAll('h2')].some((h) => h.textContent === 'Layers'));
    const shown = await page.$$eval('td', (cells) => cells.map((c) => c.textContent));
    assert.ok(shown.includes(HOSTILE), 'the label is shown as the text it is');
    assert.equal(shown.filter((t) => t === HOSTILE).length, 3, 'label, environment and annotation');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'nothing from the image ran');
    assert.equal(await page.$$eval('main img, main script', (n) => n.length), 0);
    assert.deepEqual(dialogs, []);
    await screenshot(page, 'ui-image');
    assert.deepEqual(await accessibilityProblems(page), []);
    // A pull command, copied.
    const command = await page.$eval('ul.commands li code', (c) => c.textContent);
    assert.equal(command, `docker pull ${new URL(gw.url).host}/web/hostile:latest`);
    await page.click('ul.commands li button');
    await page.waitForFunction(() => document.querySelector('ul.commands li button')?.textContent === 'Copied');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), command);

    // The index: every platform with its own digest and size.
    await page.goto(`${gw.url}/ui/#/r/${encodeURIComponent('web/multi')}/t/1.0`, { waitUntil: 'networkidle0' });
    await page.waitForFunction(() => [...document.querySelectorAll('h2')].some((h) => h.textContent === 'Platforms'));
    const platforms = await page.$$eval('table tbody tr td:first-child', (cells) => cells.map((c) => c.textContent));
    assert.deepEqual(platforms.slice(0, 2), ['linux/amd64', 'linux/arm64']);

    // The signed image: its signature is listed as a referrer, with its artifact type.
    await page.goto(`${gw.url}/ui/#/r/${encodeURIComponent('web/signed')}/t/v2`, { waitUntil: 'networkidle0' });
    await page.waitForFunction((type) => [...document.querySelectorAll('td')].some((c) => c.textContent === type), {}, SIGNATURE_TYPE);
    assert.deepEqual(refused, []);
    await page.close();
  });

  it('sorts tags by push time across pages, shows each tag\'s referrers, and the storage a repository holds', async () => {
    // 55 tags pushed one after another: by name t-00 comes first; by push, t-54.
    const image = buildOciImage({ dir: join(work, 'many'), seed: 'web-ui-many-tags' });
    await pushBuilt('web/many', 't-00', image);
    for (let i = 1; i < 55; i++) {
      await new Promise((r) => setTimeout(r, 3));
      await putManifest('web/many', `t-${String(i).padStart(2, '0')}`, image.top.bytes, image.top.mediaType);
    }
    await pushReferrer('web/many', { digest: image.top.digest, size: image.top.size, mediaType: image.top.mediaType });
    // What regate du measures (a GC mark that deletes nothing), as the page then shows it.
    const driver = wrapDriver(new FilesystemDriver(gw.storageRoot));
    const measured = await collectGarbage(driver, { dryRun: true, usageReport: 'du', delayMs: 0 });
    const usage = measured.usage['web/many']!;
    assert.ok(usage.unique > 0 && usage.blobs >= 4, JSON.stringify(usage));

    const page = await newPage();
    await signIn(page);
    await page.goto(`${gw.url}/ui/#/r/${encodeURIComponent('web/many')}`, { waitUntil: 'networkidle0' });
    await page.waitForFunction(() => /unique to this repository/.test(document.querySelector('p.usage')?.textContent ?? ''));
    const usageText = await page.$eval('p.usage', (p) => p.textContent ?? '');
    assert.match(usageText, /measured .* by regate du/);
    const tagsShown = (): Promise<string[]> => page.$$eval('tbody th a', (links) => links.map((a) => a.textContent ?? ''));
    assert.deepEqual((await tagsShown()).slice(0, 2), ['t-00', 't-01']);
    await page.select('#tag-order', 'pushed');
    await page.waitForFunction(() => document.querySelector('tbody th a')?.textContent === 't-54');
    const newest = await tagsShown();
    assert.equal(newest.length, 50);
    assert.deepEqual(newest.slice(0, 3), ['t-54', 't-53', 't-52']);
    assert.equal(newest.at(-1), 't-05');
    assert.match(await page.$eval('caption', (c) => c.textContent ?? ''), /newest push first \(55 in all\)/);
    await page.waitForFunction(() => [...document.querySelectorAll('tbody td')].some((c) => c.textContent === '1: dev.sigstore.bundle.v0.3'));
    assert.equal(await page.$eval('tbody tr td:last-child', (c) => c.getAttribute('title')), SIGNATURE_TYPE);
    await screenshot(page, 'ui-tags-by-push');
    assert.deepEqual(await accessibilityProblems(page), []);
    await page.$eval('nav.pager button:last-child', (b) => (b as HTMLButtonElement).click());
    await page.waitForFunction(() => document.querySelector('tbody th a')?.textContent === 't-04');
    assert.deepEqual(await tagsShown(), ['t-04', 't-03', 't-02', 't-01', 't-00']);
    await page.close();
  });

  it('reads well in dark mode too', async () => {
    const page = await newPage(true);
    await signIn(page);
    await page.goto(`${gw.url}/ui/#/r/${encodeURIComponent('web/signed')}/t/v2`, { waitUntil: 'networkidle0' });
    await page.waitForFunction(() => [...document.querySelectorAll('h2')].some((h) => h.textContent === 'Referrers'));
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(background, 'rgb(13, 17, 23)');
    await screenshot(page, 'ui-image-dark');
    assert.deepEqual(await accessibilityProblems(page), []);
    await page.close();
  });

  it('untags and deletes, saying first which tags go with a manifest and that space comes back at the next GC pass', async () => {
    const one = buildOciImage({ dir: join(work, 'del-one'), seed: 'web-ui-delete-one' });
    const other = buildOciImage({ dir: join(work, 'del-other'), seed: 'web-ui-delete-other' });
    await pushBuilt('web/del', 'a', one);
    await putManifest('web/del', 'b', one.top.bytes, one.top.mediaType);
    await pushBuilt('web/del', 'c', other);
    const tagsNow = async (): Promise<string[]> => (await gw.send('GET', '/v2/web/del/tags/list', { auth: USER })).json<{ tags: string[] }>().tags;
    const page = await newPage();
    await signIn(page);
    const confirmText = async (): Promise<string> => {
      await page.waitForSelector('.confirm-box');
      return page.$eval('.confirm-box', (box) => box.textContent ?? '');
    };
    const clickButton = async (text: string): Promise<void> => {
      await page.waitForFunction((t) => [...document.querySelectorAll('button')].some((b) => b.textContent === t), {}, text);
      await page.evaluate((t) => [...document.querySelectorAll('button')].find((b) => b.textContent === t)!.click(), text);
    };
    // Untag a: b still points at the manifest, and says so.
    await page.goto(`${gw.url}/ui/#/r/${encodeURIComponent('web/del')}/t/a`, { waitUntil: 'networkidle0' });
    await clickButton('Untag a');
    const untagText = await confirmText();
    assert.match(untagText, /The tag a is removed\. The manifest sha256:[0-9a-f]{64} stays, reachable by its digest and by the tags b\./);
    assert.match(untagText, /garbage-collection pass/);
    assert.deepEqual(await tagsNow(), ['a', 'b', 'c'], 'nothing goes before the confirmation');
    await clickButton('Yes, untag a');
    await page.waitForFunction(() => location.hash === '#/r/web%2Fdel');
    assert.deepEqual(await tagsNow(), ['b', 'c']);
    // Delete by digest from b: it names b as going with it.
    await page.goto(`${gw.url}/ui/#/r/${encodeURIComponent('web/del')}/t/b`, { waitUntil: 'networkidle0' });
    await clickButton('Delete the manifest…');
    const deleteText = await confirmText();
    assert.match(deleteText, new RegExp(`The manifest ${one.top.digest} is removed, and with it every tag that points at it: b\\.`));
    assert.deepEqual(await accessibilityProblems(page), []);
    await clickButton('Yes, delete the manifest');
    await page.waitForFunction(() => location.hash === '#/r/web%2Fdel');
    assert.deepEqual(await tagsNow(), ['c']);
    assert.equal((await gw.send('GET', `/v2/web/del/manifests/${one.top.digest}`, { auth: USER })).status, 404);
    await page.close();
  });

  it("works in upstream mode: the page reads the registry behind regate through /v2/ (passing each request's credentials on: the browser's Basic dialog; with regate's own upstream credentials: the form)", async () => {
    const front = await startGateway({
      users: { [USER[0]]: USER[1] },
      config: { storage: null, regate: { upstream: { url: gw.url, insecureskipverify: true, passauthorization: true } } },
    });
    try {
      assert.equal((await front.send('GET', '/ui/session', { auth: USER })).status, 200);
      const refused = await front.send('POST', '/ui/login', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: USER[0], password: USER[1] }) });
      assert.equal(refused.status, 403);
      assert.match(refused.text(), /passauthorization/);
      const context = await browser.createBrowserContext();
      const page = await context.newPage();
      await page.authenticate({ username: USER[0], password: USER[1] });
      await page.goto(`${front.url}/ui?login=basic`, { waitUntil: 'networkidle0' });
      await page.goto(`${front.url}/ui/#/r/${encodeURIComponent('web/multi')}`, { waitUntil: 'networkidle0' });
      await page.waitForFunction(() => document.querySelector('tbody td code') !== null);
      assert.deepEqual(await page.$$eval('tbody th a', (links) => links.map((a) => a.textContent)), ['1.0']);
      await context.close();
    } finally {
      await front.close();
    }
    const own = await startGateway({
      users: { carol: 'front-door-3' },
      config: { storage: null, regate: { upstream: { url: gw.url, insecureskipverify: true, username: USER[0], password: USER[1] } } },
    });
    try {
      const page = await newPage();
      await signIn(page, own.url, ['carol', 'front-door-3']);
      await page.goto(`${own.url}/ui/#/r/${encodeURIComponent('web/multi')}`, { waitUntil: 'networkidle0' });
      await page.waitForFunction(() => document.querySelector('tbody td code') !== null);
      assert.deepEqual(await page.$$eval('tbody th a', (links) => links.map((a) => a.textContent)), ['1.0']);
      await page.close();
    } finally {
      await own.close();
    }
  });

  it("signs in with the form (a wrong password says so), signs out, and takes the browser's own Basic dialog too", async () => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1100, height: 900 });
    const challenged: string[] = [];
    page.on('response', (r) => {
      if (r.headers()['www-authenticate'] !== undefined) challenged.push(r.url());
    });
    await page.goto(`${gw.url}/ui/`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#signin-user');
    assert.deepEqual(challenged, [], 'the page asks without a challenge, so no browser dialog opens');
    await screenshot(page, 'ui-sign-in');
    assert.deepEqual(await accessibilityProblems(page), []);
    await page.type('#signin-user', USER[0]);
    await page.type('#signin-password', 'not-the-password');
    await page.click('form.signin button[type=submit]');
    await page.waitForFunction(() => document.querySelector('form.signin .status.error')?.textContent === 'Wrong user name or password.');
    assert.equal(await page.$eval('#signin-password', (i) => (i as HTMLInputElement).value), '', 'the password box is emptied');
    await page.type('#signin-password', USER[1]);
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('ul.names a');
    assert.equal(await page.$eval('#account span', (s) => s.textContent), `Signed in as ${USER[0]}`);
    const cookies = await page.cookies(gw.url);
    assert.equal(cookies.length, 1);
    assert.equal(cookies[0]!.name, '__Host-regate-session');
    assert.ok(cookies[0]!.httpOnly && cookies[0]!.secure && cookies[0]!.sameSite === 'Strict', JSON.stringify(cookies[0]));
    assert.equal(await page.evaluate(() => document.cookie), '', 'the page script cannot read it');
    // Sign out: the form again, and the cookie is gone.
    await page.click('#account button');
    await page.waitForSelector('#signin-user');
    assert.match(await page.$eval('main', (m) => m.textContent ?? ''), /Signed out\./);
    assert.deepEqual(await page.cookies(gw.url), []);
    await page.goto(`${gw.url}/ui/#/r/${encodeURIComponent('web/multi')}`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#signin-user');
    await context.close();

    // The browser's own dialog: /ui?login=basic challenges, then the page works on Basic credentials.
    const basicContext = await browser.createBrowserContext();
    const basicPage = await basicContext.newPage();
    await basicPage.authenticate({ username: USER[0], password: USER[1] });
    await basicPage.goto(`${gw.url}/ui?login=basic`, { waitUntil: 'networkidle0' });
    await basicPage.waitForSelector('ul.names a');
    assert.equal(basicPage.url(), `${gw.url}/ui/`);
    assert.equal(await basicPage.$eval('#account span', (s) => s.textContent), `Signed in as ${USER[0]}`);
    assert.deepEqual(await basicPage.cookies(gw.url), [], 'no session: Basic credentials alone');
    await basicContext.close();
  });

  it('regate.ui.enabled: false answers 404 at /ui/', async () => {
    const off = await startGateway({ users: { [USER[0]]: USER[1] }, config: { regate: { ui: { enabled: false } } } });
    try {
      assert.equal((await off.send('GET', '/ui/', { auth: USER })).status, 404);
    } finally {
      await off.close();
    }
  });
});
