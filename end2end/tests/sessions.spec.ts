/**
 * The Sessions section with several devices: each browser context is a separate device with its
 * own user agent.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import {
  BASE_URL,
  HTTP_4XX_LOG,
  SECURITY_PATH,
  expect,
  expectPathname,
  expectSecurityPage,
  gotoHydrated,
  newAccount,
  region,
  signInViaApi,
  signUpViaApi,
  test,
  trackPageErrors,
  type Account,
} from './fixtures';

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';

type Device = { context: BrowserContext; page: Page; errors: string[] };

async function device(browser: Browser, account: Account, userAgent: string): Promise<Device> {
  const context = await browser.newContext({ baseURL: BASE_URL, userAgent });
  const page = await context.newPage();
  const errors = trackPageErrors(page);
  await signInViaApi(page, account.email, account.password);
  return { context, page, errors };
}

function rows(page: Page) {
  return region(page, 'Sessions').getByRole('listitem');
}

test('each device is listed with its browser and OS, the current one first', async ({ page, browser, clientAddress }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const firefox = await device(browser, account, FIREFOX_WINDOWS);
  const iphone = await device(browser, account, SAFARI_IPHONE);
  try {
    await gotoHydrated(page, SECURITY_PATH);
    await expect(rows(page)).toHaveCount(3);
    await expect(rows(page).first()).toContainText('This device');
    // the address the (trusted) proxy forwarded, in a range no geo-IP database places
    await expect(rows(page).first()).toContainText(`Unknown · ${clientAddress}`);
    await expect(rows(page).first().getByRole('button', { name: 'Sign out' })).toBeVisible();
    // the account's plan (Free) decides how long sessions live, and the page says so
    await expect(region(page, 'Sessions')).toContainText(
      'Devices are signed out after 14 days without activity, and 30 days after signing in.',
    );
    await expect(rows(page).first().getByRole('button', { name: 'Revoke' })).toHaveCount(0);
    await expect(rows(page).filter({ hasText: 'Firefox 140 on Windows' })).toHaveCount(1);
    await expect(rows(page).filter({ hasText: 'Safari 17 on iPhone' })).toHaveCount(1);
    // first sign-ins from these devices are flagged; the account's first device is not
    await expect(rows(page).filter({ hasText: 'Firefox 140 on Windows' })).toContainText('New device');
    await expect(rows(page).filter({ hasText: 'Safari 17 on iPhone' })).toContainText('New device');
    await expect(rows(page).first()).not.toContainText('New device');
    // the iPhone sees itself as the current one
    await gotoHydrated(iphone.page, SECURITY_PATH);
    await expect(rows(iphone.page).first()).toContainText('Safari 17 on iPhone');
    await expect(rows(iphone.page).first()).toContainText('This device');
    expect([...firefox.errors, ...iphone.errors]).toEqual([]);
  } finally {
    await firefox.context.close();
    await iphone.context.close();
  }
});

test('revoking a device signs it out on its next request', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const firefox = await device(browser, account, FIREFOX_WINDOWS);
  try {
    await gotoHydrated(firefox.page, SECURITY_PATH);
    await gotoHydrated(page, SECURITY_PATH);
    const row = rows(page).filter({ hasText: 'Firefox 140 on Windows' });
    // the row's button names its session as the row does, and so does the confirmation (with its
    // address and when it signed in: two sessions of one browser in one place would otherwise read
    // the same in a list of the page's buttons)
    await expect(row.getByRole('button', { name: /^Revoke Firefox 140 on Windows/ })).toHaveAccessibleName(
      /^Revoke Firefox 140 on Windows 10 \(\d+\.\d+\.\d+\.\d+\), signed in (just now|1 minute ago)$/,
    );
    // described by its facts: two sessions of one browser at one address differ by when
    await expect(row.getByRole('button', { name: /^Revoke Firefox 140 on Windows/ })).toHaveAccessibleDescription(/ · signed in .+ · last active /);
    await row.getByRole('button', { name: /^Revoke Firefox 140 on Windows/ }).click();
    const confirm = page.getByRole('group', { name: /^Revoke Firefox 140 on Windows 10/ });
    await expect(confirm).toBeVisible();
    await confirm.getByRole('button', { name: 'Revoke' }).click();
    await expect(page.getByRole('status')).toContainText('Session revoked');
    await expect(rows(page)).toHaveCount(1);
    // the activity names the session that ended, as the confirmation did
    await expect(region(page, 'Recent security activity')).toContainText('Ended the Firefox 140 on Windows 10 session');

    await firefox.page.reload();
    await expectPathname(firefox.page, '/sign-in');
    await expect(firefox.page.getByRole('status')).toHaveText(/You were signed out of this device/);
    // said calmly, not in the green of a change the person asked for
    await expect(firefox.page.getByRole('status')).toHaveClass('notice notice-info');
    expect(firefox.errors).toEqual([]);
  } finally {
    await firefox.context.close();
  }
});

test('revoking a session another tab already revoked says it had already ended, and the list is drawn without it', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const firefox = await device(browser, account, FIREFOX_WINDOWS);
  try {
    await gotoHydrated(page, SECURITY_PATH);
    const tab = await page.context().newPage();
    await gotoHydrated(tab, SECURITY_PATH);
    const revoke = async (p: Page) => {
      await rows(p).filter({ hasText: 'Firefox 140 on Windows' }).getByRole('button', { name: /^Revoke Firefox 140 on Windows/ }).click();
      await p.getByRole('group', { name: /^Revoke Firefox 140 on Windows 10/ }).getByRole('button', { name: 'Revoke' }).click();
    };
    await revoke(page);
    await expect(page.getByRole('status')).toContainText('Session revoked');
    await revoke(tab);
    // the second tab still showed it: told what happened, and the row goes
    await expect(region(tab, 'Sessions').getByRole('alert')).toHaveText('That session had already ended.');
    await expect(rows(tab)).toHaveCount(1);
    await expect(rows(tab).filter({ hasText: 'Firefox 140 on Windows' })).toHaveCount(0);
  } finally {
    await firefox.context.close();
  }
});

test('with the keyboard, a confirmation takes the focus when it opens and gives it back on Cancel or Escape', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const firefox = await device(browser, account, FIREFOX_WINDOWS);
  try {
    await gotoHydrated(page, SECURITY_PATH);
    const sessions = region(page, 'Sessions');
    // a row's Revoke: its confirmation (drawn above the button) has the focus, then Tab reaches
    // its danger button, not the next row
    const revoke = rows(page).filter({ hasText: 'Firefox 140 on Windows' }).getByRole('button', { name: /^Revoke Firefox 140 on Windows/ });
    await revoke.focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('group', { name: /^Revoke Firefox 140 on Windows 10/ });
    await expect(confirm).toBeFocused();
    await page.keyboard.press('Tab');
    await expect(confirm.getByRole('button', { name: 'Revoke', exact: true })).toBeFocused();
    await page.keyboard.press('Tab');
    await expect(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(confirm).toHaveCount(0);
    await expect(revoke).toBeFocused();

    // Revoke all others: the button gives way to its confirmation, and comes back focused
    await sessions.getByRole('button', { name: 'Revoke all others' }).focus();
    await page.keyboard.press('Enter');
    const others = page.getByRole('group', { name: 'Sign out of 1 other session?' });
    await expect(others).toBeFocused();
    // Escape is Cancel, from the group itself or from one of its buttons
    await page.keyboard.press('Escape');
    await expect(others).toHaveCount(0);
    await expect(sessions.getByRole('button', { name: 'Revoke all others' })).toBeFocused();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await expect(others.getByRole('button', { name: 'Revoke 1 session' })).toBeFocused();
    await page.keyboard.press('Escape');
    await expect(others).toHaveCount(0);
    await expect(sessions.getByRole('button', { name: 'Revoke all others' })).toBeFocused();

    // confirmed: the page draws itself anew, and the focus goes to what the section says happened
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await expect(others.getByRole('button', { name: 'Revoke 1 session' })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(sessions.getByRole('status')).toHaveText('Signed out of 1 other session.');
    await expect(sessions.getByRole('status')).toBeFocused();
    expect(firefox.errors).toEqual([]);
  } finally {
    await firefox.context.close();
  }
});

test('with the keyboard, revoking one of two look-alike sessions puts the focus on what happened, not on the other one\'s Revoke', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const first = await device(browser, account, FIREFOX_WINDOWS);
  const second = await device(browser, account, FIREFOX_WINDOWS);
  try {
    await gotoHydrated(page, SECURITY_PATH);
    const sessions = region(page, 'Sessions');
    const revokes = rows(page).getByRole('button', { name: /^Revoke Firefox 140 on Windows/ });
    await expect(revokes).toHaveCount(2);
    await revokes.first().focus();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await expect(page.getByRole('group', { name: /^Revoke Firefox 140 on Windows 10/ }).getByRole('button', { name: 'Revoke', exact: true })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(revokes).toHaveCount(1);
    const said = sessions.getByRole('status');
    await expect(said).toContainText('Session revoked');
    await expect(said).toBeFocused();
    expect([...first.errors, ...second.errors]).toEqual([]);
  } finally {
    await first.context.close();
    await second.context.close();
  }
});

test('a device signed out elsewhere goes to sign-in on its next action, not to an error beside the button', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const context = await browser.newContext({ baseURL: BASE_URL, userAgent: FIREFOX_WINDOWS });
  try {
    const firefox = await context.newPage();
    // (the refused request is logged by the browser as a failed load)
    const errors = trackPageErrors(firefox, [HTTP_4XX_LOG]);
    await signInViaApi(firefox, account.email, account.password);
    await gotoHydrated(firefox, SECURITY_PATH);
    // the other device revokes this one while its page stays open
    await gotoHydrated(page, SECURITY_PATH);
    const row = rows(page).filter({ hasText: 'Firefox 140 on Windows' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('group', { name: /^Revoke Firefox 140 on Windows 10/ }).getByRole('button', { name: 'Revoke' }).click();
    await expect(page.getByRole('status')).toContainText('Session revoked');

    const section = region(firefox, 'Password');
    await section.getByRole('button', { name: 'Change password' }).click();
    await section.getByLabel('Current password', { exact: true }).fill(account.password);
    await section.getByLabel('New password', { exact: true }).fill(`${account.password} and more`);
    await section.getByRole('button', { name: 'Update password' }).click();
    await expectPathname(firefox, '/sign-in');
    await expect(firefox.getByRole('status')).toHaveText(/You were signed out of this device/);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
  }
});

test.describe(() => {
  // the first Revoke answers 403 ReverifyRequired, which Chromium logs
  test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });
  test("after the re-verification window, revoking one device asks \"Confirm it's you\" first, then revokes it", async ({ page, browser }) => {
    const account = newAccount();
    await signUpViaApi(page, account);
    const firefox = await device(browser, account, FIREFOX_WINDOWS);
    try {
      await gotoHydrated(page, SECURITY_PATH);
      await page.locator('.verified-banner').getByRole('button', { name: 'End now' }).click();
      await expect(page.locator('.verified-banner')).toHaveCount(0);
      // said where the banner was, with the keyboard there (it went to the page's heading, silent)
      await expect(page.getByRole('status').filter({ hasText: 'Verification ended.' })).toBeFocused();
      const revoke = rows(page).filter({ hasText: 'Firefox 140 on Windows' }).getByRole('button', { name: 'Revoke' });
      const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
      // Escape in the dialog: the keyboard is back on the row's Revoke, where it began (the
      // confirmation it went through closed as the dialog opened; it fell to the page's heading)
      await revoke.click();
      await page.getByRole('group', { name: /^Revoke Firefox 140 on Windows 10/ }).getByRole('button', { name: 'Revoke' }).click();
      await expect(dialog).toBeVisible();
      await page.keyboard.press('Escape');
      await expect(dialog).toHaveCount(0);
      await expect(revoke).toBeFocused();
      // again, confirmed this time
      await revoke.click();
      await page.getByRole('group', { name: /^Revoke Firefox 140 on Windows 10/ }).getByRole('button', { name: 'Revoke' }).click();
      await expect(dialog).toBeVisible();
      await expect(rows(page)).toHaveCount(2);
      await dialog.getByLabel('Your password').fill(account.password);
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      await expect(dialog).toHaveCount(0);
      await expect(page.getByRole('status').filter({ hasText: 'Session revoked' })).toBeVisible();
      await expect(rows(page)).toHaveCount(1);
      await firefox.page.goto(SECURITY_PATH);
      await expectPathname(firefox.page, '/sign-in');
    } finally {
      await firefox.context.close();
    }
  });
});

test('Revoke all others keeps this device; Sign out everywhere ends them all', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  let firefox = await device(browser, account, FIREFOX_WINDOWS);
  const iphone = await device(browser, account, SAFARI_IPHONE);
  try {
    await gotoHydrated(page, SECURITY_PATH);
    await expect(rows(page)).toHaveCount(3);
    const revokeOthers = region(page, 'Sessions').getByRole('button', { name: 'Revoke all others' });
    await expect(revokeOthers).toHaveAccessibleDescription('');
    await revokeOthers.click();
    const confirm = page.getByRole('group', { name: 'Sign out of 2 other sessions?' });
    await expect(confirm).toContainText('Sign out of 2 other sessions?');
    await confirm.getByRole('button', { name: 'Revoke 2 sessions' }).click();
    await expect(page.getByRole('status')).toContainText('Signed out of 2 other sessions.');
    await expect(rows(page)).toHaveCount(1);
    // none left to revoke: the button is off, and says why
    await expect(revokeOthers).toBeDisabled();
    await expect(revokeOthers).toHaveAccessibleDescription('This is your only session: there are no others to revoke.');
    for (const d of [firefox, iphone]) {
      await d.page.goto(SECURITY_PATH);
      await expectPathname(d.page, '/sign-in');
    }
    await page.reload();
    await expectSecurityPage(page);

    // a new device, then everywhere
    await firefox.context.close();
    firefox = await device(browser, account, FIREFOX_WINDOWS);
    await page.reload();
    await expectSecurityPage(page);
    await expect(rows(page)).toHaveCount(2);
    await region(page, 'Sessions').getByRole('button', { name: 'Sign out everywhere' }).click();
    const everywhere = page.getByRole('group', { name: /^Sign out of all \d+ sessions/ });
    await expect(everywhere).toContainText('Sign out of all 2 sessions, including this one?');
    await everywhere.getByRole('button', { name: 'Sign out everywhere' }).click();
    await expectPathname(page, '/sign-in');
    await page.goto(SECURITY_PATH);
    await expectPathname(page, '/sign-in');
    await firefox.page.goto(SECURITY_PATH);
    await expectPathname(firefox.page, '/sign-in');
  } finally {
    await firefox.context.close();
    await iphone.context.close();
  }
});

test("another account's session id cannot be revoked", async ({ page, browser, request }) => {
  const ada = newAccount();
  const bob = newAccount();
  await signUpViaApi(page, ada);
  await signUpViaApi(request, bob);
  const bobDevice = await device(browser, bob, FIREFOX_WINDOWS);
  try {
    // Bob's session id, as Bob's own page knows it
    await gotoHydrated(bobDevice.page, SECURITY_PATH);
    const overview = await bobDevice.page.request.post('/api/security/overview', { headers: { Origin: new URL(BASE_URL).origin } });
    const bobSessionId = (await overview.json()).sessions[0].id as string;

    const forged = await page.request.post('/api/security/sessions/revoke', {
      form: { session_id: bobSessionId },
      headers: { Origin: new URL(BASE_URL).origin },
    });
    const unknown = await page.request.post('/api/security/sessions/revoke', {
      form: { session_id: '00000000-0000-4000-8000-000000000000' },
      headers: { Origin: new URL(BASE_URL).origin },
    });
    expect(forged.status()).toBe(404);
    expect(forged.status()).toBe(unknown.status());
    expect(await forged.text()).toBe(await unknown.text());

    await bobDevice.page.reload();
    await expectSecurityPage(bobDevice.page);
  } finally {
    await bobDevice.context.close();
  }
});
