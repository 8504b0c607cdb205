#!/usr/bin/env node
// Walks `mdz-callback demo` in headless Chromium as a newcomer would, and fails on anything that
// does not happen as they would expect:
//
//   node demo-walk.mjs --origin http://127.0.0.1:PORT --sim http://127.0.0.1:SIMPORT --out DIR
//
// sign-in start -> the simulated TikTok's consent page -> Approve -> the service's "Signed in"
// page, whose `Refresh` moves on to /operator: the operator page must show the account, which
// proves Chromium sent the SameSite=Strict session cookie on that step (the redirect chain
// itself began at TikTok, cross-site) -> send the demo video -> its upload page until the draft
// is in the inbox -> the simulated inbox shows a draft with the SHA-256 the upload page shows
// -> the simulated app page -> a site page, with the demo banner -> the used sign-in link again,
// which must say this browser is signed in.
//
// Every page is then photographed at 1280 and 390 px wide, light and dark
// (DIR/<name>-<width>-<scheme>.png), and DIR/urls.txt and DIR/cookies.json are written so
// check.mjs can run vnu and axe on the same pages with the same session.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const BANNER = 'Demo: TikTok is simulated on this machine; nothing leaves it.';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  if (i < 0 || !args[i + 1]) fail(`missing ${name}`);
  return args[i + 1];
};
function fail(msg) {
  console.error(`demo-walk: FAIL: ${msg}`);
  process.exit(1);
}
const origin = opt('--origin').replace(/\/$/, '');
const sim = opt('--sim').replace(/\/$/, '');
const out = opt('--out');
mkdirSync(out, { recursive: true });

const { chromium } = await import(join(HERE, 'node_modules', 'playwright-core', 'index.mjs'));
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);
const shots = []; // [name, url]
const text = () => page.locator('body').innerText();
async function expectText(what, needle) {
  const t = await text();
  if (!t.includes(needle)) fail(`${what}: "${needle}" not on ${page.url()}:\n${t.slice(0, 800)}`);
}

try {
  // Sign in, as the demo's printed address says.
  await page.goto(`${origin}/auth/tiktok/start`);
  // The simulated TikTok on another site (localhost, not 127.0.0.1), as TikTok is in production:
  // the redirect back is then a cross-site chain and the Strict cookie is withheld from it.
  const consent = new URL(page.url());
  if (consent.port !== new URL(sim).port || consent.hostname === new URL(origin).hostname) {
    fail(`sign-in start did not lead to the simulated TikTok on another site: ${page.url()}`);
  }
  await expectText('consent page', 'would like to access your TikTok account');
  shots.push(['consent', page.url()]);

  const callback = page.waitForResponse((r) => r.url().startsWith(`${origin}/auth/tiktok/callback`));
  await page.getByRole('button', { name: 'Approve' }).click();
  const signedIn = await callback;
  const callbackUrl = signedIn.url();
  if (signedIn.status() !== 200) fail(`the callback answered ${signedIn.status()}`);
  await page.waitForURL(`${origin}/operator`);
  await page.waitForLoadState('load');
  // The Strict session cookie went along: the page is the account's, not "Sign in required".
  await expectText('operator page after sign-in', 'Mira Demo');
  await expectText('operator page banner', BANNER);
  shots.push(['operator', page.url()]);

  // Send the pre-approved demo video and follow its page until the draft is in the inbox.
  await page.locator('form[action="/operator/uploads"] button[type=submit]').first().click();
  await page.waitForURL(/\/operator\/uploads\/\d+/);
  const uploadUrl = page.url().replace(/\?.*$/, '');
  await page.waitForFunction(() => document.body.innerText.includes('The draft is in the TikTok inbox'),
    null, { timeout: 60000 });
  const sha = (await page.locator('dt:text-is("SHA-256") + dd code').innerText()).trim();
  if (!/^[0-9a-f]{64}$/.test(sha)) fail(`the upload page shows no SHA-256: "${sha}"`);
  shots.push(['upload', uploadUrl]);

  await page.goto(`${sim}/sim/drafts`);
  await expectText('simulated inbox', sha);
  shots.push(['sim-drafts', page.url()]);
  await page.goto(`${sim}/sim/app`);
  await expectText('simulated app page', 'Remove this app');
  shots.push(['sim-app', page.url()]);

  // The site on the same origin: the header's links work and carry the banner.
  await page.goto(`${origin}/`);
  await page.getByRole('navigation', { name: 'Site' }).getByRole('link', { name: 'Privacy' }).click();
  await page.waitForURL(`${origin}/privacy/`);
  await expectText('site page', BANNER);
  shots.push(['site-privacy', page.url()]);
  shots.push(['site-home', `${origin}/`]);

  // The used sign-in link again (a reload, a bookmark): it says what happened.
  await page.goto(callbackUrl);
  await expectText('used sign-in link', 'You are already signed in');
  shots.push(['used-link', callbackUrl]);

  for (const [name, url] of shots) {
    for (const width of [1280, 390]) {
      for (const scheme of ['light', 'dark']) {
        await page.setViewportSize({ width, height: 800 });
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto(url);
        await page.screenshot({ path: join(out, `${name}-${width}-${scheme}.png`), fullPage: true });
      }
    }
  }
  writeFileSync(join(out, 'urls.txt'), shots.map(([, url]) => url).join('\n') + '\n');
  await context.storageState({ path: join(out, 'cookies.json') });
  console.log(`demo-walk: ${shots.length} pages walked and photographed (1280/390 px, light/dark) in ${out}`);
} catch (e) {
  fail(`${e.message} (at ${page.url()})`);
} finally {
  await browser.close();
}
