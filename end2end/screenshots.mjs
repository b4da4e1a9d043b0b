// Dev tool: screenshots of the sign-in and Security & Access pages at desktop and phone width,
// signed in as the demo account of `make run`. Usage: cd end2end && node screenshots.mjs (BASE=… to change the site).
import { chromium } from '@playwright/test';
const base = process.env.BASE || 'http://localhost:3000';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync'] });
for (const [name, vp] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 360, height: 780 }]]) {
  const ctx = await browser.newContext({ viewport: vp });
  const page = await ctx.newPage();
  page.on('console', m => { if (m.type() === 'error' || m.type() === 'warning') console.log(name, 'console', m.type(), m.text()); });
  page.on('pageerror', e => console.log(name, 'pageerror', e.message));
  await page.goto(base + '/sign-in');
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached', timeout: 20000 });
  await page.screenshot({ path: `/tmp/shots/sign-in-${name}.png`, fullPage: true });
  await page.getByLabel('Email').fill('demo@gatehouse.test');
  await page.getByLabel('Password').fill('correct horse battery staple');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL('**/settings/security', { timeout: 15000 });
  await page.getByRole('heading', { name: 'Security & Access' }).waitFor();
  await page.screenshot({ path: `/tmp/shots/security-${name}.png`, fullPage: true });
  await page.reload();
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached', timeout: 20000 });
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.screenshot({ path: `/tmp/shots/security-form-${name}.png`, fullPage: true });
  await ctx.close();
}
await browser.close();
