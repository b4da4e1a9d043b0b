import { chromium } from 'playwright';
const B = 'http://localhost:3000';
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const errors = [];
async function ctx(width) {
  const c = await b.newContext({ viewport: { width, height: 900 } });
  const p = await c.newPage();
  p.on('pageerror', (e) => errors.push(String(e)));
  return { c, p };
}
const mail = async (to) => (await (await fetch(`http://127.0.0.1:12963/api/messages?to=${encodeURIComponent(to)}`)).json());
for (const width of [1280, 360]) {
  const { c, p } = await ctx(width);
  const email = `shot${Date.now()}@example.test`;
  await p.goto(B + '/sign-up'); await p.waitForSelector('html[data-hydrated]');
  await p.getByLabel('Email', { exact: true }).fill(email);
  await p.getByLabel('Display name (optional)').fill('Visit evil.example now');
  await p.getByRole('button', { name: 'Continue', exact: true }).click();
  await p.waitForTimeout(1500);
  let m; for (let i = 0; i < 30 && !m; i++) { m = (await mail(email))[0]; if (!m) await p.waitForTimeout(300); }
  const link = m.text.match(/http\S+sign-up\/finish\S+/)[0];
  await p.goto(link); await p.waitForSelector('html[data-hydrated]');
  await p.screenshot({ path: `/tmp/shots/finish-${width}.png`, fullPage: true });
  // demo: security page, turn-off required preview not needed; sign in demo and check Yes notice not possible without alert
  await c.close();
}
{
  const { c, p } = await ctx(1280);
  await p.goto(B + '/sign-in'); await p.waitForSelector('html[data-hydrated]');
  await p.getByLabel('Email', { exact: true }).fill('kim@acme.test');
  await p.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
  await p.getByRole('button', { name: 'Sign in', exact: true }).click();
  await p.waitForTimeout(2500);
  console.log('kim at', p.url(), 'focused:', await p.evaluate(() => document.activeElement?.outerHTML.slice(0, 80)));
  await p.screenshot({ path: `/tmp/shots/kim-1280.png`, fullPage: true });
  await c.close();
}
console.log('errors', errors);
await b.close();
