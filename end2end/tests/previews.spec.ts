import type { Page } from '@playwright/test';
import { expect, gotoHydrated, test } from './fixtures';

// The re-verification banner counts down in the browser: a minute after the page hydrated it says
// one minute less, and a comparison that reaches it later than that (the loop below takes over a
// minute on 2 busy cores) would fail on the minute. Its words are masked; password.spec checks them.
const countdown = (page: Page) => ({ mask: [page.locator('.verified-banner strong')] });

// /previews renders every component state as <figure data-preview="<slug>">.
// Baselines live in tests/__screenshots__/previews.spec.ts/<slug>.png; create
// or refresh them with `npx playwright test previews --update-snapshots`.

test('every component state matches its screenshot', async ({ page }) => {
  await gotoHydrated(page, '/previews');

  const slugs = await page
    .locator('[data-preview]')
    .evaluateAll((figures) => figures.map((figure) => figure.getAttribute('data-preview') ?? ''));
  expect(slugs.length, 'number of previews').toBeGreaterThanOrEqual(10);
  expect(new Set(slugs).size, `preview slugs must be unique: ${slugs.join(', ')}`).toBe(slugs.length);
  for (const slug of slugs) {
    // The slug becomes a file name.
    expect(slug, 'preview slug').toMatch(/^[a-z0-9][a-z0-9_-]*$/i);
  }

  // Each comparison takes a couple of screenshots; allow time for all of them.
  test.setTimeout(30_000 + slugs.length * 3_000);
  for (const slug of slugs) {
    await test.step(slug, async () => {
      await expect(page.locator(`[data-preview="${slug}"]`)).toHaveScreenshot(`${slug}.png`, countdown(page));
    });
  }
});

test('every id in the gallery is its own, so each label, description and dialog title names its own state', async ({ page }) => {
  await gotoHydrated(page, '/previews');
  const ids = await page.locator('[id]').evaluateAll((elements) => elements.map((element) => element.id));
  expect(ids.length, 'ids on the page').toBeGreaterThan(100);
  const repeated = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
  expect(repeated).toEqual([]);
});

test.describe('phone', () => {
  test.use({ viewport: { width: 360, height: 740 } });

  test('the previews page matches its full-page screenshot', async ({ page }) => {
    // a very tall page: capturing and comparing it takes 30-75 s on 2 busy cores (the suite runs 4
    // workers), so the comparison gets most of the test's time, not expect's default 10 s
    test.setTimeout(180_000);
    await gotoHydrated(page, '/previews');
    // Chromium captures a page this tall (about 135,000 px) in tiles, and now and then draws a few
    // glyphs' edges differently from one capture to the next: 110 pixels of the authenticator key's
    // monospace text in one failed run, nothing else. A few hundred pixels are allowed for that; a
    // layout change at this width moves thousands (one line of text that wraps differently is
    // about 20 × 300). The per-component comparisons above still allow none.
    await expect(page).toHaveScreenshot('previews-phone.png', { ...countdown(page), fullPage: true, timeout: 160_000, maxDiffPixels: 300 });
  });
});
