// Dev tool: screenshots of passkey sign-in and the Passkeys section (desktop and phone), adding a
// passkey to the demo account of `make run` with a Chromium virtual authenticator.
// Usage: cd end2end && node passkey-screenshots.mjs (writes /tmp/shots/pk-*.png).
import { chromium } from '@playwright/test';
const base = process.env.BASE || 'http://localhost:3000';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync'] });
for (const [name, vp] of [['desktop', { width: 1280, height: 900 }], ['phone', { width: 360, height: 780 }]]) {
  const ctx = await browser.newContext({ viewport: vp });
  const page = await ctx.newPage();
  page.on('pageerror', e => console.log(name, 'pageerror', e.message));
  page.on('console', m => { if (m.type() === 'error') console.log(name, 'console', m.text()); });
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  await cdp.send('WebAuthn.addVirtualAuthenticator', { options: { protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true, defaultBackupEligibility: true, defaultBackupState: true } });
  await page.addInitScript(() => { if (window.PublicKeyCredential) window.PublicKeyCredential.isConditionalMediationAvailable = async () => false; });
  await page.goto(base + '/sign-in');
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached', timeout: 20000 });
  await page.screenshot({ path: `/tmp/shots/pk-sign-in-${name}.png`, fullPage: true });
  await page.getByLabel('Email').fill('demo@gatehouse.test');
  await page.getByLabel('Password').fill('correct horse battery staple');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL('**/settings/security', { timeout: 15000 });
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached', timeout: 20000 });
  const section = page.getByRole('region', { name: 'Passkeys' });
  await section.getByRole('button', { name: 'New passkey' }).click();
  await section.getByLabel('Name (optional)').fill(name === 'desktop' ? 'Work laptop' : '');
  await section.screenshot({ path: `/tmp/shots/pk-naming-${name}.png` });
  await section.getByRole('button', { name: 'Continue' }).click();
  await section.getByRole('status').waitFor();
  await section.screenshot({ path: `/tmp/shots/pk-section-${name}.png` });
  await page.screenshot({ path: `/tmp/shots/pk-security-${name}.png`, fullPage: true });
  await ctx.close();
}
const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
await page.goto(base + '/previews#preview-passkeys');
await page.locator('html[data-hydrated]').waitFor({ state: 'attached', timeout: 20000 });
await page.locator('#preview-passkeys').locator('..').screenshot({ path: '/tmp/shots/pk-previews.png' });
await browser.close();
