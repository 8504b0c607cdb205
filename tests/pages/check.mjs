#!/usr/bin/env node
// Page-quality checks: every page as a person sees it.
//
//   node check.mjs [--artifacts DIR] [--json FILE] [--canonical required|optional]
//                  [--jobs N] TARGET...
//
// TARGET is a directory (every *.html under it is checked, served from a local static HTTP
// server on 127.0.0.1 so pages load as a visitor's would) or an http(s) URL (for pages a
// running service renders, e.g. the callback service). `--urls FILE` adds one URL per line.
//
// Checks, one result per check per page (the ids are what the selftest matches on):
//   html-valid       W3C Nu HTML checker (vnu.jar, offline, Java): zero errors; warnings printed
//   axe-light        axe-core, tags wcag2a wcag2aa wcag21a wcag21aa best-practice: zero violations,
//                    run at 1280 and at 320 px wide
//   axe-dark         the same with prefers-color-scheme: dark
//   no-hscroll-W     W = 320, 768, 1280: no horizontal scrolling, nothing sticking out on the right
//   print            print media at the A4 content width: nothing wider than the paper; PDF saved
//   skip-link        first Tab focuses a visible link to #main, and #main exists
//   focus-visible    tabbing reaches every link/control, each shows an outline or box-shadow
//   headings         exactly one h1, it comes first, no level skipped going down
//   size             the HTML (CSS is inline) is under 14 KB before compression
//   no-script        no <script>, no on* handler attributes, no javascript: URLs
//   no-third-party   no request to any origin but the page's own while it loads and renders
//   head-meta        lang, title, meta description, viewport, canonical (not on 404 pages)
//
//   --cookies FILE   a Playwright storage state (cookies) to fetch and open URLs with, e.g. a
//                    signed-in operator session that demo-walk.mjs saved
//   --allow-origin O requests to O are not third-party (the simulated TikTok on this machine,
//                    standing in for TikTok's avatar CDN that the operator page's CSP allows)
//
// Artifacts (for a person to look at): <name>-320.png, <name>-1280.png, <name>-1280-dark.png,
// <name>.pdf and results.json. Exit status 0 only if every check on every page passed.

import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const MODULES = join(HERE, 'node_modules');
const VNU_JAR = join(MODULES, 'vnu-jar', 'build', 'dist', 'vnu.jar');
const AXE_JS = join(MODULES, 'axe-core', 'axe.min.js');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync',
];
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
const WIDTHS = [320, 768, 1280];
const AXE_WIDTHS = [1280, 320];
const SHOT_WIDTHS = new Set([320, 1280]);
const MAX_BYTES = 14 * 1024;
// A4 is 210 mm wide; with 10 mm side margins the content box is 190 mm = 718 CSS px at 96 dpi.
const PDF_MARGIN = { top: '15mm', bottom: '15mm', left: '10mm', right: '10mm' };
const PRINT_WIDTH = Math.floor((190 / 25.4) * 96);
const CHECKS = ['html-valid', 'axe-light', 'axe-dark', ...WIDTHS.map((w) => `no-hscroll-${w}`), 'print',
  'skip-link', 'focus-visible', 'headings', 'size', 'no-script', 'no-third-party', 'head-meta'];

function die(msg) {
  console.error(`pages: ERROR: ${msg}`);
  console.log('pages: 0 passed, 1 failed');
  process.exit(2);
}

// ---------------------------------------------------------------- arguments
const args = process.argv.slice(2);
let artifacts = resolve(HERE, '..', 'artifacts', 'pages');
let jsonOut = null;
let canonicalMode = null;
let jobs = 2;
let storageState = null;
const allowedOrigins = [];
const targets = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--artifacts') artifacts = resolve(args[++i]);
  else if (a === '--json') jsonOut = resolve(args[++i]);
  else if (a === '--canonical') canonicalMode = args[++i];
  else if (a === '--jobs') jobs = Math.max(1, Number(args[++i]) || 1);
  else if (a === '--cookies') storageState = JSON.parse(readFileSync(args[++i], 'utf8'));
  else if (a === '--allow-origin') allowedOrigins.push(new URL(args[++i]).origin);
  else if (a === '--urls') {
    for (const line of readFileSync(args[++i], 'utf8').split('\n')) {
      const u = line.replace(/#.*/, '').trim();
      if (u) targets.push(u);
    }
  } else if (a === '-h' || a === '--help') {
    console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 28).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
    process.exit(0);
  } else if (a.startsWith('--')) die(`unknown option ${a}`);
  else targets.push(a);
}
if (!targets.length) die('no target: give a directory of .html files or a URL');
if (canonicalMode && !['required', 'optional'].includes(canonicalMode)) die('--canonical is required|optional');

// Missing tools fail loudly; nothing is ever skipped.
if (!existsSync(VNU_JAR)) die(`missing ${VNU_JAR} (run: npm ci --ignore-scripts in ${HERE})`);
if (!existsSync(AXE_JS)) die(`missing ${AXE_JS} (run: npm ci --ignore-scripts in ${HERE})`);
if (!existsSync(CHROMIUM)) die(`missing ${CHROMIUM} (apt-get install chromium chromium-driver)`);
if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) die('missing java (needed by vnu.jar)');
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  die(`cannot load playwright-core (run: npm ci --ignore-scripts in ${HERE}): ${e.message}`);
}

// ---------------------------------------------------------------- pages
function walk(dir) {
  const out = [];
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    if (ent.name === 'node_modules' || ent.name.startsWith('.git')) continue;
    const p = join(dir, ent.name);
    if (ent.isDirectory()) out.push(...walk(p));
    else if (ent.isFile() && ent.name.endsWith('.html')) out.push(p);
  }
  return out.sort();
}

function nameFor(rel) {
  // index.html -> index, privacy/index.html -> privacy, 404.html -> 404, a/b.html -> a_b
  let n = rel.split(sep).join('/').replace(/\.html$/, '').replace(/\/index$/, '');
  return n.replace(/[^A-Za-z0-9._-]+/g, '_') || 'index';
}

function urlPathFor(rel) {
  const p = '/' + rel.split(sep).join('/');
  return p.endsWith('/index.html') ? p.slice(0, -'index.html'.length) : p;
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.ico': 'image/x-icon',
  '.jpg': 'image/jpeg', '.webp': 'image/webp', '.json': 'application/json', '.pdf': 'application/pdf' };

function serve(root) {
  return new Promise((ok) => {
    const server = createServer((req, res) => {
      let path;
      try {
        path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      } catch {
        res.writeHead(400).end();
        return;
      }
      let file = resolve(root, '.' + path);
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end();
        return;
      }
      if (existsSync(file) && statSync(file).isDirectory()) {
        if (!path.endsWith('/')) {
          res.writeHead(301, { location: path + '/' }).end();
          return;
        }
        file = join(file, 'index.html');
      }
      if (existsSync(file) && statSync(file).isFile()) {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' });
        res.end(readFileSync(file));
      } else if (existsSync(join(root, '404.html'))) {
        res.writeHead(404, { 'content-type': TYPES['.html'] });
        res.end(readFileSync(join(root, '404.html')));
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      }
    });
    server.listen(0, '127.0.0.1', () => ok(server));
  });
}

// The stored cookies a browser would send to `url` (host and path match; all are local).
function cookieHeader(url) {
  if (!storageState) return {};
  const u = new URL(url);
  const jar = storageState.cookies.filter((c) => c.domain.replace(/^\./, '') === u.hostname && u.pathname.startsWith(c.path));
  return jar.length ? { cookie: jar.map((c) => `${c.name}=${c.value}`).join('; ') } : {};
}

const servers = [];
const pages = []; // {name, url, file, html, origin, canonical}
const scratch = mkdtempSync(join(tmpdir(), 'pages-check-'));
for (const t of targets) {
  if (/^https?:\/\//i.test(t)) {
    let res;
    try {
      res = await fetch(t, { redirect: 'follow', headers: cookieHeader(t) });
    } catch (e) {
      die(`cannot fetch ${t}: ${e.message}`);
    }
    const body = Buffer.from(await res.arrayBuffer());
    const u = new URL(res.url);
    let name = nameFor((u.host + u.pathname).replace(/\/$/, '/index.html').replace(/\//g, sep)) || 'page';
    while (pages.some((p) => p.name === name)) name += '_';
    const file = join(scratch, `${name}.html`);
    writeFileSync(file, body);
    pages.push({ name, url: res.url, file, html: body, origin: u.origin, is404: res.status === 404 || /(^|\/)404(\.html)?$/.test(u.pathname),
      canonical: canonicalMode === 'required' });
  } else {
    const root = resolve(t);
    if (!existsSync(root) || !statSync(root).isDirectory()) die(`${t} is neither a directory nor an http(s) URL`);
    const files = walk(root);
    if (!files.length) die(`no .html files under ${root}`);
    const server = await serve(root);
    servers.push(server);
    const origin = `http://127.0.0.1:${server.address().port}`;
    for (const file of files) {
      const rel = relative(root, file);
      let name = nameFor(rel);
      while (pages.some((p) => p.name === name)) name += '_';
      const base = rel.split(sep).pop();
      pages.push({ name, url: origin + urlPathFor(rel), file, html: readFileSync(file), origin,
        is404: base === '404.html', canonical: canonicalMode !== 'optional' });
    }
  }
}

mkdirSync(artifacts, { recursive: true });
const results = new Map(pages.map((p) => [p.name, new Map()])); // name -> check -> {ok, detail}
function record(page, check, ok, detail = '') {
  results.get(page.name).set(check, { ok, detail });
}

// ---------------------------------------------------------------- vnu (one JVM for all pages)
const t0 = Date.now();
{
  const vnu = spawnSync('java', ['-jar', VNU_JAR, '--format', 'json', '--stdout', '--exit-zero-always',
    ...pages.map((p) => p.file)], { encoding: 'utf8', maxBuffer: 64 << 20 });
  let messages;
  try {
    messages = JSON.parse(vnu.stdout).messages;
  } catch {
    die(`vnu did not run (status ${vnu.status}): ${vnu.stderr || vnu.stdout || vnu.error}`);
  }
  const byFile = new Map(pages.map((p) => [resolve(p.file), { errors: [], warnings: [] }]));
  for (const m of messages) {
    let file = null;
    try {
      file = m.url ? resolve(fileURLToPath(m.url)) : null;
    } catch { /* not a file: URL */ }
    const slot = byFile.get(file);
    const where = m.lastLine ? `line ${m.lastLine}${m.firstColumn ? `:${m.firstColumn}` : ''}` : '';
    const text = `${where ? where + ': ' : ''}${m.message}${m.extract ? `  «${m.extract.replace(/\s+/g, ' ').slice(0, 100)}»` : ''}`;
    if (!slot) {
      // A message not tied to one of our files (e.g. the checker itself failed): fail everything.
      if (m.type !== 'info') for (const s of byFile.values()) s.errors.push(`${m.type}: ${text}`);
      continue;
    }
    if (m.type === 'error' || m.type === 'non-document-error') slot.errors.push(text);
    else if (m.type === 'info' && m.subType === 'warning') slot.warnings.push(text);
  }
  for (const p of pages) {
    const s = byFile.get(resolve(p.file));
    for (const w of s.warnings) console.log(`  warn html-valid ${p.name}: ${w}`);
    record(p, 'html-valid', s.errors.length === 0, s.errors.join('\n'));
  }
  console.log(`pages: vnu checked ${pages.length} page(s) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// ---------------------------------------------------------------- static checks on the bytes
for (const p of pages) {
  const text = p.html.toString('utf8');
  record(p, 'size', p.html.length < MAX_BYTES, `${p.html.length} bytes, budget ${MAX_BYTES - 1}`);
  const scripty = [];
  if (/<script\b/i.test(text)) scripty.push('<script> element in the file');
  const handler = text.match(/<[a-z][^>]*\s(on[a-z]+)\s*=/i);
  if (handler) scripty.push(`event handler attribute ${handler[1]}=`);
  if (/(href|src|action)\s*=\s*["']?\s*javascript:/i.test(text)) scripty.push('javascript: URL');
  p.scripty = scripty;
}

// ---------------------------------------------------------------- browser checks
const axeSource = readFileSync(AXE_JS, 'utf8');

function fmtViolations(vs) {
  const lines = [];
  for (const v of vs) {
    lines.push(`${v.id} [${v.impact}] ${v.help} (${v.helpUrl})`);
    for (const n of v.nodes.slice(0, 5)) {
      lines.push(`    at ${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 240)}`);
    }
    if (v.nodes.length > 5) lines.push(`    … and ${v.nodes.length - 5} more`);
  }
  return lines.join('\n');
}

// Elements whose right edge passes the viewport (content cut off or forcing a sideways scroll).
// In screen mode content inside a scroll container (e.g. a wide table with overflow-x:auto) is
// reachable and allowed; in print nothing scrolls, so it counts.
function overflowProbe({ allowScrollers }) {
  const limit = document.documentElement.clientWidth;
  const out = [];
  const scrolls = (el) => {
    for (let a = el.parentElement; a && a !== document.body && a !== document.documentElement; a = a.parentElement) {
      const ox = getComputedStyle(a).overflowX;
      if (ox === 'auto' || ox === 'scroll') return true;
    }
    return false;
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? `#${el.id}` : '') +
    (el.classList.length ? '.' + [...el.classList].join('.') : '');
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || cs.display === 'none') continue;
    if (r.right > limit + 1 && !(allowScrollers && scrolls(el))) {
      out.push(`${describe(el)} right edge ${Math.round(r.right)} px > ${limit} px`);
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    clientWidth: limit,
    offenders: out,
  };
}

async function runAxe(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return { violations: r.violations, incomplete: r.incomplete.map((i) => i.id) };
  }, AXE_TAGS);
}

async function checkPage(browser, p) {
  const foreign = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light',
    reducedMotion: 'reduce', serviceWorkers: 'block', ...(storageState ? { storageState } : {}) });
  // Nothing ever leaves the machine: requests to other origins are recorded and aborted.
  await context.route('**/*', (route) => {
    const u = route.request().url();
    let origin = null;
    try {
      origin = new URL(u).origin;
    } catch { /* data:, blob:, about: */ }
    if (origin === p.origin || allowedOrigins.includes(origin) || /^(data|blob|about):/i.test(u)) return route.continue();
    foreign.push(`${route.request().resourceType()} ${u}`);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.on('request', (req) => {
    const u = req.url();
    if (!/^(data|blob|about):/i.test(u) && new URL(u).origin !== p.origin && !allowedOrigins.includes(new URL(u).origin) && !foreign.some((f) => f.endsWith(' ' + u))) {
      foreign.push(`${req.resourceType()} ${u}`);
    }
  });
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  try {
    const resp = await page.goto(p.url, { waitUntil: 'load', timeout: 30000 });
    if (!resp) throw new Error('no response');

    // --- head metadata, headings, script in the DOM
    const dom = await page.evaluate(() => {
      const meta = (n) => document.querySelector(`meta[name="${n}"]`)?.getAttribute('content')?.trim() || '';
      const heads = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map((h) => ({
        level: Number(h.tagName[1]), text: h.textContent.trim().replace(/\s+/g, ' ').slice(0, 60) }));
      const handlers = [];
      for (const el of document.querySelectorAll('*')) {
        for (const a of el.attributes) if (/^on/i.test(a.name)) handlers.push(`${el.tagName.toLowerCase()}[${a.name}]`);
      }
      return {
        lang: document.documentElement.getAttribute('lang') || '',
        title: document.title.trim(),
        description: meta('description'),
        viewport: meta('viewport'),
        canonical: document.querySelector('link[rel~="canonical"]')?.getAttribute('href') || '',
        heads,
        scripts: document.scripts.length,
        handlers,
        jsUrls: [...document.querySelectorAll('[href^="javascript:" i],[src^="javascript:" i]')].length,
      };
    });
    {
      const miss = [];
      if (!dom.lang) miss.push('<html lang>');
      if (!dom.title) miss.push('<title>');
      if (!dom.description) miss.push('<meta name="description">');
      if (!/width=device-width/.test(dom.viewport)) miss.push('<meta name="viewport" content="width=device-width, …">');
      if (p.canonical && !p.is404 && !/^https?:\/\//.test(dom.canonical)) miss.push('<link rel="canonical" href="https://…">');
      record(p, 'head-meta', miss.length === 0, miss.length ? `missing ${miss.join(', ')}` : '');
    }
    {
      const problems = [];
      const h1s = dom.heads.filter((h) => h.level === 1).length;
      if (h1s !== 1) problems.push(`${h1s} h1 elements (want exactly one)`);
      if (dom.heads.length && dom.heads[0].level !== 1) problems.push(`first heading is h${dom.heads[0].level} "${dom.heads[0].text}", not the h1`);
      for (let i = 1; i < dom.heads.length; i++) {
        const a = dom.heads[i - 1], b = dom.heads[i];
        if (b.level > a.level + 1) problems.push(`h${a.level} "${a.text}" is followed by h${b.level} "${b.text}" (skips h${a.level + 1})`);
      }
      record(p, 'headings', problems.length === 0, problems.join('; ') ||
        dom.heads.map((h) => `h${h.level}`).join(' '));
    }
    {
      const s = [...p.scripty];
      if (dom.scripts) s.push(`${dom.scripts} script element(s) in the DOM`);
      if (dom.handlers.length) s.push(`handler attributes ${[...new Set(dom.handlers)].join(', ')}`);
      if (dom.jsUrls) s.push(`${dom.jsUrls} javascript: URL(s)`);
      record(p, 'no-script', s.length === 0, [...new Set(s)].join('; '));
    }

    // --- widths: no horizontal scrolling; screenshots for a person
    for (const w of [...WIDTHS].reverse()) {
      await page.setViewportSize({ width: w, height: 800 });
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const o = await page.evaluate(overflowProbe, { allowScrollers: true });
      const bad = [];
      if (o.scrollWidth > o.innerWidth) bad.push(`page is ${o.scrollWidth} px wide in a ${o.innerWidth} px window`);
      bad.push(...o.offenders.slice(0, 8));
      if (o.offenders.length > 8) bad.push(`… ${o.offenders.length - 8} more elements`);
      record(p, `no-hscroll-${w}`, bad.length === 0, bad.join('; '));
      if (SHOT_WIDTHS.has(w)) await page.screenshot({ path: join(artifacts, `${p.name}-${w}.png`), fullPage: true });
    }

    // --- keyboard at 1280 px: skip link first, then a visible focus ring on everything reachable
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.evaluate(() => { document.activeElement?.blur?.(); window.scrollTo(0, 0); });
    {
      const focusables = await page.evaluate(() => {
        const sel = 'a[href], area[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
        return [...document.querySelectorAll(sel)].filter((el) => {
          if (el.disabled) return false;
          const cs = getComputedStyle(el);
          return el.getClientRects().length > 0 && cs.visibility !== 'hidden';
        }).length;
      });
      const seen = [];
      const noRing = [];
      let wrapped = false;
      for (let i = 0; i < focusables + 3; i++) {
        await page.keyboard.press('Tab');
        const f = await page.evaluate(() => {
          const el = document.activeElement;
          if (!el || el === document.body || el === document.documentElement) return null;
          if (el.__pagesSeen) return { again: true };
          el.__pagesSeen = true;
          const cs = getComputedStyle(el);
          const ow = parseFloat(cs.outlineWidth) || 0;
          const transparent = (c) => /^transparent$|rgba\([^)]*,\s*0\)$/.test(c.trim());
          const ring = (cs.outlineStyle !== 'none' && ow > 0 && !transparent(cs.outlineColor)) ||
            (cs.boxShadow && cs.boxShadow !== 'none');
          const r = el.getBoundingClientRect();
          const label = `${el.tagName.toLowerCase()}${el.getAttribute('href') ? `[href="${el.getAttribute('href')}"]` : ''} "${(el.textContent || el.value || '').trim().replace(/\s+/g, ' ').slice(0, 40)}"`;
          const mainEl = document.getElementById('main');
          return {
            label, ring: !!ring, href: el.getAttribute('href'), isLink: el.tagName === 'A',
            mainExists: !!mainEl,
            onScreen: r.width > 1 && r.height > 1 && r.top >= 0 && r.left >= 0 &&
              r.bottom <= window.innerHeight && r.right <= window.innerWidth,
            outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}; box-shadow ${cs.boxShadow}`,
          };
        });
        if (!f) { if (seen.length) { wrapped = true; break; } continue; }
        if (f.again) { wrapped = true; break; }
        seen.push(f);
        if (!f.ring) noRing.push(`${f.label} (${f.outline})`);
      }
      // skip link
      const first = seen[0];
      let skipProblem = '';
      if (!first) skipProblem = 'Tab focuses nothing';
      else if (!first.isLink || first.href !== '#main') skipProblem = `first Tab focuses ${first.label}, not a skip link to #main`;
      else if (!first.mainExists) skipProblem = 'skip link target id="main" does not exist';
      else if (!first.onScreen) skipProblem = 'skip link is not visible on screen when focused';
      record(p, 'skip-link', !skipProblem, skipProblem || first.label);
      const problems = [];
      if (noRing.length) problems.push(`no visible focus indicator on ${noRing.length} element(s): ${noRing.slice(0, 6).join('; ')}`);
      if (seen.length < focusables) problems.push(`Tab reached ${seen.length} of ${focusables} focusable elements`);
      record(p, 'focus-visible', problems.length === 0, problems.join('; ') || `${seen.length} focus stops, all with a ring`);
      await page.evaluate(() => document.activeElement?.blur?.());
    }

    // --- axe in light and dark, wide and narrow (a box that only scrolls at 320 px is a
    // keyboard trap candidate: scrollable-region-focusable)
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      const found = [];
      for (const w of AXE_WIDTHS) {
        await page.setViewportSize({ width: w, height: 800 });
        const r = await runAxe(page);
        for (const v of r.violations) {
          const same = found.find((f) => f.id === v.id);
          if (same) same.widths.push(w);
          else found.push({ ...v, widths: [w] });
        }
        if (r.incomplete.length) console.log(`  note axe-${scheme} ${p.name} @${w}px: needs review (not failing): ${r.incomplete.join(', ')}`);
      }
      for (const f of found) f.help = `${f.help} — at ${f.widths.join(' and ')} px`;
      record(p, `axe-${scheme}`, found.length === 0, found.length ? fmtViolations(found) : '');
      if (scheme === 'dark') {
        await page.setViewportSize({ width: 1280, height: 800 });
        await page.screenshot({ path: join(artifacts, `${p.name}-1280-dark.png`), fullPage: true });
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });

    // --- print: lay out at the A4 content width under print media, then print the PDF
    await page.setViewportSize({ width: PRINT_WIDTH, height: 1000 });
    await page.emulateMedia({ media: 'print', colorScheme: 'light' });
    {
      const o = await page.evaluate(overflowProbe, { allowScrollers: false });
      const bad = [];
      if (o.scrollWidth > o.clientWidth) bad.push(`printed page is ${o.scrollWidth} px wide, paper fits ${o.clientWidth} px`);
      bad.push(...o.offenders.slice(0, 8));
      if (o.offenders.length > 8) bad.push(`… ${o.offenders.length - 8} more elements`);
      const pdf = await page.pdf({ path: join(artifacts, `${p.name}.pdf`), format: 'A4', margin: PDF_MARGIN, printBackground: true });
      if (!pdf || pdf.length < 500 || !pdf.subarray(0, 5).toString().startsWith('%PDF')) bad.push('PDF was not produced');
      record(p, 'print', bad.length === 0, bad.join('; ') || `${pdf.length} byte PDF`);
    }
    await page.emulateMedia({ media: 'screen' });
  } catch (e) {
    for (const c of CHECKS) if (c !== 'html-valid' && c !== 'size' && !results.get(p.name).has(c)) record(p, c, false, `browser check crashed: ${e.message}`);
  } finally {
    record(p, 'no-third-party', foreign.length === 0, [...new Set(foreign)].join('; '));
    if (consoleErrors.length) console.log(`  note ${p.name}: page errors: ${consoleErrors.join('; ')}`);
    await context.close();
  }
}

const t1 = Date.now();
let browser;
try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true,
    timeout: 60000 });
} catch (e) {
  die(`cannot start ${CHROMIUM}: ${e.message}`);
}
{
  const queue = [...pages];
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    while (queue.length) await checkPage(browser, queue.shift());
  }));
}
await browser.close();
for (const s of servers) s.close();
rmSync(scratch, { recursive: true, force: true });
console.log(`pages: browser checks on ${pages.length} page(s) in ${((Date.now() - t1) / 1000).toFixed(1)} s`);

// ---------------------------------------------------------------- report
let passed = 0, failed = 0;
const json = {};
for (const p of pages) {
  json[p.name] = { url: p.url, file: p.file, checks: {} };
  for (const c of CHECKS) {
    const r = results.get(p.name).get(c) || { ok: false, detail: 'check did not run' };
    json[p.name].checks[c] = r;
    if (r.ok) {
      passed++;
      console.log(`PASS ${c} ${p.name}`);
    } else {
      failed++;
      console.log(`FAIL ${c} ${p.name}: ${r.detail.split('\n').join('\n       ')}`);
    }
  }
}
writeFileSync(join(artifacts, 'results.json'), JSON.stringify(json, null, 2));
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(json, null, 2));
console.log(`pages: artifacts in ${artifacts}`);
console.log(`pages: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
