/**
 * Security & Access hydrates its cards each in a task of their own, after the rest of the page
 * (app/src/components/later.rs, app/src/browser/hydration.rs). A click that comes in between is
 * held and given to its card once every card is hydrated, as a click during a hydration done in
 * one task waited for all of it.
 *
 * The browser's clock is Playwright's here, paused: the cards' turns are timers, so they come only
 * when the test moves the clock on, and the click lands, for sure, while they wait.
 */
import { expect, region, SECURITY_PATH, signUpViaApi, newAccount, test } from './fixtures';

test('a click on a card before its turn to hydrate is kept, and given to the card once it is', async ({ page }) => {
  const account = newAccount('Ada Lovelace');
  await signUpViaApi(page, account);
  // (paused: the page's timers fire only when the test moves the clock on)
  await page.clock.install({ time: new Date('2026-12-07T12:00:00Z') });
  await page.clock.pauseAt(new Date('2026-12-07T12:00:01Z'));
  await page.goto(SECURITY_PATH);
  // (the bundle loads once the browser is idle after the page's load, or after 2 s at the latest)
  await page.clock.runFor(2_500);
  await page.locator('html[data-sections-waiting]').waitFor({ state: 'attached' });
  const section = region(page, 'Password');
  // (force: the pointer's way there waits for animation frames, which this clock holds)
  await section.getByRole('button', { name: 'Change password' }).click({ force: true });
  await expect(section.getByLabel('Current password', { exact: true })).toHaveCount(0);
  await expect(page.locator('html[data-hydrated]')).toHaveCount(0);

  await page.clock.runFor(1_000);
  await expect(page.locator('html[data-hydrated]')).toHaveCount(1);
  await expect(page.locator('html[data-sections-waiting]')).toHaveCount(0);
  await expect(section.getByLabel('Current password', { exact: true })).toBeVisible();
  await expect(section.getByRole('button', { name: 'Change password' })).toHaveCount(0);
});
