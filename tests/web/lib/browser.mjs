// A headless Chromium (Debian's /usr/bin/chromium) driven by Playwright,
// for the Rust tests (tests/common/browser.rs). It reads one JSON command
// per line on stdin and answers each with one JSON line on stdout:
// {"id": N, "ok": true, "value": ...} or {"id": N, "ok": false, "error": "..."}.
// Pages are served from tests/web/pages and converse.js's dist folder by a
// static server of its own on 127.0.0.1, so that they have an http:// origin
// as on a real site.
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, '..');
const roots = {
  '/pages/': join(web, 'pages'),
  '/converse/': join(web, 'node_modules', 'converse.js', 'dist'),
};
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.woff': 'font/woff',
  '.ttf': 'font/ttf', '.mp3': 'audio/mpeg', '.ogg': 'audio/ogg',
};

const files = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  for (const [prefix, root] of Object.entries(roots)) {
    if (!path.startsWith(prefix)) continue;
    const file = normalize(join(root, path.slice(prefix.length)));
    if (!file.startsWith(root)) break;
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[extname(file)] || 'application/octet-stream' });
      return res.end(body);
    } catch { break; }
  }
  res.writeHead(404).end('not found');
});
await new Promise((ok) => files.listen(0, '127.0.0.1', ok));
const origin = `http://127.0.0.1:${files.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
});
const consoleLines = [];
const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
// Only loopback is ever a target: anything else a page asks for (a
// library's CDN, a link preview) fails here, and is logged.
await context.route((url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname), (route) => {
  consoleLines.push(`blocked: ${route.request().url()}`);
  return route.abort('blockedbyclient');
});
let page = await context.newPage();
const watch = (p) => {
  p.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  p.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  // The XMPP frames both ways, for a failing test's report.
  p.on('websocket', (ws) => {
    const cut = (d) => String(d.payload).slice(0, 400);
    ws.on('framesent', (d) => consoleLines.push(`ws> ${cut(d)}`));
    ws.on('framereceived', (d) => consoleLines.push(`ws< ${cut(d)}`));
  });
  p.on('response', (r) => { if (r.status() >= 400) consoleLines.push(`http ${r.status()}: ${r.url()}`); });
};
watch(page);

// A command runs in the page, or with "frame": "part of its URL", in that
// frame (a chat embedded by a company's page is an iframe of another
// origin, which the page's own scripts may not reach into).
function target(frame) {
  if (!frame) return page;
  const f = page.frames().find((x) => x.url().includes(frame));
  if (!f) throw new Error(`no frame whose URL contains ${frame}`);
  return f;
}

const commands = {
  origin: async () => origin,
  // Opens a URL; a path starting with / is on the static server.
  open: async ({ url }) => {
    await page.goto(url.startsWith('/') ? origin + url : url, { waitUntil: 'load' });
    return page.url();
  },
  reload: async () => { await page.reload({ waitUntil: 'load' }); return page.url(); },
  viewport: async ({ width, height }) => { await page.setViewportSize({ width, height }); return true; },
  // Waits until `selector` matches an element whose text contains `text`.
  wait_text: async ({ selector, text, timeout, frame }) => {
    const loc = target(frame).locator(selector, { hasText: text }).first();
    await loc.waitFor({ state: 'visible', timeout: timeout ?? 20000 });
    return await loc.innerText();
  },
  wait_for: async ({ selector, timeout, state, frame }) => {
    await target(frame).locator(selector).first().waitFor({ state: state ?? 'visible', timeout: timeout ?? 20000 });
    return true;
  },
  // Polled with evaluate (the DevTools protocol's, which a page's CSP does
  // not govern), not waitForFunction, which the chat page's CSP refuses.
  wait_js: async ({ js, timeout, frame }) => {
    const end = Date.now() + (timeout ?? 20000);
    for (;;) {
      let v = null;
      try { v = await target(frame).evaluate(js); } catch (e) { v = null; }
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${js}`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  },
  eval: async ({ js, frame }) => await target(frame).evaluate(js),
  fill: async ({ selector, text, frame }) => { await target(frame).locator(selector).first().fill(text); return true; },
  type: async ({ selector, text, frame }) => { await target(frame).locator(selector).first().pressSequentially(text, { delay: 20 }); return true; },
  press: async ({ selector, key, frame }) => { await target(frame).locator(selector).first().press(key); return true; },
  click: async ({ selector, frame }) => { await target(frame).locator(selector).first().click(); return true; },
  texts: async ({ selector }) => await page.locator(selector).allInnerTexts(),
  set_files: async ({ selector, name, mime, base64 }) => {
    await page.locator(selector).first().setInputFiles({ name, mimeType: mime, buffer: Buffer.from(base64, 'base64') });
    return true;
  },
  screenshot: async ({ path }) => { await page.screenshot({ path, fullPage: true }); return path; },
  console: async () => consoleLines.splice(0),
  close: async () => { await browser.close(); files.close(); setImmediate(() => process.exit(0)); return true; },
};

const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  let msg;
  try { msg = JSON.parse(line); } catch (e) { return; }
  const f = commands[msg.cmd];
  try {
    if (!f) throw new Error(`unknown command ${msg.cmd}`);
    const value = await f(msg);
    process.stdout.write(JSON.stringify({ id: msg.id, ok: true, value: value ?? null }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ id: msg.id, ok: false, error: String(e && e.message || e) }) + '\n');
  }
});
rl.on('close', async () => { await browser.close().catch(() => {}); process.exit(0); });
process.stdout.write(JSON.stringify({ ready: true, origin }) + '\n');
