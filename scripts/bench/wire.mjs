// Measure 7 of make bench: bytes over the wire for a cold and a warm load of the signed-in Security &
// Access page, in Debian's Chromium driven by the end-to-end suite's Playwright (end2end/), with
// the browser's HTTP cache: the cold load is the first visit of a fresh browser context (signed in
// through the API first, which does not touch the HTTP cache), the warm one a second visit in a new
// tab of the same context. Bytes are Chromium's own count of what each response took on the wire
// (CDP Network.loadingFinished encodedDataLength: headers + body as transferred, compressed if it
// was); answers from the memory or disk cache count 0.
import { createRequire } from 'node:module';
import path from 'node:path';
import { HERE } from './lib.mjs';

const require = createRequire(path.join(HERE, '../../end2end/package.json'));

// the end-to-end suite's launch options (end2end/playwright.config.ts)
const LAUNCH = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
};

export async function measureWire({ origin, email, password, pathname = '/settings/security' }) {
  const { chromium } = require('@playwright/test');
  const browser = await chromium.launch(LAUNCH);
  try {
    const context = await browser.newContext({ baseURL: origin, viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC' });
    const signIn = await context.request.post('/api/auth/sign-in', {
      form: { email, password, return_to: pathname },
      headers: { Origin: origin },
      maxRedirects: 0,
    });
    if (signIn.status() >= 400) throw new Error(`sign-in for the wire measure answered ${signIn.status()}`);
    const cold = await load(context, pathname);
    const warm = await load(context, pathname);
    return { cold, warm, chromium: browser.version() };
  } finally {
    await browser.close();
  }
}

async function load(context, pathname) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const requests = new Map();
  const entry = (id) => {
    if (!requests.has(id)) requests.set(id, { url: '', type: '', status: 0, bytes: 0, cached: false, encoding: '' });
    return requests.get(id);
  };
  cdp.on('Network.requestWillBeSent', (e) => Object.assign(entry(e.requestId), { url: e.request.url, type: e.type ?? '' }));
  cdp.on('Network.requestServedFromCache', (e) => (entry(e.requestId).cached = true));
  cdp.on('Network.responseReceived', (e) => {
    const r = entry(e.requestId);
    r.status = e.response.status;
    r.type = e.type ?? r.type;
    if (e.response.fromDiskCache || e.response.fromPrefetchCache || e.response.fromServiceWorker) r.cached = true;
    const h = Object.fromEntries(Object.entries(e.response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    r.encoding = h['content-encoding'] ?? '';
    r.cacheControl = h['cache-control'] ?? '';
  });
  cdp.on('Network.loadingFinished', (e) => (entry(e.requestId).bytes = e.encodedDataLength));
  cdp.on('Network.loadingFailed', (e) => (entry(e.requestId).failed = e.errorText));
  const response = await page.goto(pathname, { waitUntil: 'networkidle' });
  if (!response || response.status() !== 200 || new URL(page.url()).pathname !== pathname) {
    throw new Error(`the wire measure's page load ended at ${page.url()} (${response?.status()}), not ${pathname}`);
  }
  try {
    await page.waitForSelector('html[data-hydrated]', { timeout: 30_000 });
  } catch {
    const failed = [...requests.values()].filter((r) => r.failed || r.status >= 400).map((r) => `${r.url} ${r.failed ?? r.status}`);
    throw new Error(`${pathname} did not hydrate within 30 s${failed.length ? ` (failed: ${failed.join(', ')})` : ''}`);
  }
  await page.waitForLoadState('networkidle');
  await page.close();
  const list = [...requests.values()].filter((r) => r.url && !r.url.startsWith('data:'));
  const byType = {};
  for (const r of list) {
    const t = r.type || 'Other';
    byType[t] ??= { requests: 0, bytes: 0, cached: 0 };
    byType[t].requests += 1;
    byType[t].bytes += r.cached ? 0 : r.bytes;
    byType[t].cached += r.cached ? 1 : 0;
  }
  return {
    bytes: list.reduce((n, r) => n + (r.cached ? 0 : r.bytes), 0),
    requests: list.length,
    fromCache: list.filter((r) => r.cached).length,
    byType,
    list: list.map(({ url, type, status, bytes, cached, encoding, cacheControl }) => ({ path: new URL(url).pathname, type, status, bytes, cached, encoding, cacheControl })),
  };
}
