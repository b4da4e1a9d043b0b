/**
 * The Password section and re-verification: the strength meter, refusals with their reasons,
 * Set password for an account without one, and the "Confirm it's you" dialog that carries on with
 * the action once the person has confirmed.
 */
import {
  BASE_URL,
  canSignIn,
  endVerificationWindow,
  expect,
  expectPathname,
  expectSecurityPage,
  gotoHydrated,
  HTTP_4XX_LOG,
  literal,
  newAccount,
  region,
  SECURITY_PATH,
  signInViaApi,
  signUpViaApi,
  sql,
  strongPassword,
  test,
  trackPageErrors,
} from './fixtures';

test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });

test('the strength meter follows the rules, and the server refuses a leaked password with its reason', async ({ page }) => {
  const account = newAccount('Ada Lovelace');
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Password');
  // the form takes the focus from the button it replaces, and gives it back on Cancel
  await section.getByRole('button', { name: 'Change password' }).focus();
  await page.keyboard.press('Enter');
  await expect(section.getByLabel('Current password', { exact: true })).toBeFocused();
  await section.getByRole('button', { name: 'Cancel' }).focus();
  await page.keyboard.press('Enter');
  await expect(section.getByRole('button', { name: 'Change password' })).toBeFocused();
  await page.keyboard.press('Enter');
  const next = section.getByLabel('New password', { exact: true });
  const meter = section.locator('.strength-text');

  // nothing typed: the current password is asked for first, at its field (only the new one's rule
  // was said)
  await section.getByRole('button', { name: 'Update password' }).click();
  const current = section.getByLabel('Current password', { exact: true });
  await expect(current).toHaveAccessibleDescription('Enter your current password.');
  await expect(current).toBeFocused();
  await next.focus();

  await next.fill('tractor');
  await expect(meter).toHaveText('Too short: 8 more characters.');
  await next.fill(`${account.email}-2024`);
  await expect(meter).toHaveText("Built from your email, your name or the site's name.");
  // long enough, but repeated or sequential (or only spaces): refused as the server refuses it
  for (const predictable of ['abcdefghijklmnopqrst', 'password password password', ' '.repeat(20)]) {
    await next.fill(predictable);
    await expect(meter).toHaveText('Too predictable: repeated or sequential characters.');
  }
  await next.fill('purple tractors sing at dawn');
  await expect(meter).toHaveText(/^Strong\./);
  // the meter is tied to the field for screen readers, and what they hear as it changes is the
  // verdict, not each keystroke's count
  await expect(next).toHaveAttribute('aria-describedby', /strength/);
  await expect(meter).not.toHaveAttribute('aria-live');
  const said = section.locator('.strength [aria-live="polite"]');
  await next.fill('tractor');
  await expect(said).toHaveText('Too short.');
  await next.fill('tractors');
  await expect(meter).toHaveText('Too short: 7 more characters.');
  await expect(said).toHaveText('Too short.');
  // a common word with only a run of digits beside it is no better (it was rated "Good")
  for (const common of ['password123password', 'password12345678']) {
    await next.fill(common);
    await expect(meter).toHaveText('Too predictable: built from words every guesser tries first.');
    await expect(said).toHaveText('Too predictable.');
  }
  await next.fill('purple tractors sing at dawn');
  await expect(said).toHaveText('Strong.');

  // long enough for the meter, but in the lists of leaked passwords: only the server knows
  await section.getByLabel('Current password', { exact: true }).fill(account.password);
  await next.fill('manchesterunited');
  await expect(meter).toHaveText(/^Good\./);
  await section.getByRole('button', { name: 'Update password' }).click();
  // said at the field, which takes the focus: a screen reader reads its label, then the error
  await expect(next).toHaveAccessibleDescription(/This password is in lists of leaked passwords; choose another\./);
  await expect(next).toHaveAttribute('aria-invalid', 'true');
  await expect(next).toBeFocused();
  await expect(section.getByRole('alert')).toHaveCount(0);
  // the meter no longer says "Good" beside the refusal; typing on, it measures the new password
  await expect(meter).toHaveText('Not accepted: choose another.');
  await next.press('End');
  await next.pressSequentially('z');
  await expect(meter).toHaveText(/^Good\./);
  // nothing changed: the old password still works
  expect(await canSignIn(account.email, account.password)).toBe(true);
});

test('a field reached before the form took the focus keeps it: typing goes where the caret is', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Password');
  // Opened, then New password focused in the same moment, with no key or pointer press (as a
  // password manager, voice control or a screen reader's browse mode does): the form's own move to
  // its first field comes after, and must not take the caret away.
  const reached = await page.evaluate(async () => {
    const open = [...document.querySelectorAll<HTMLButtonElement>('#password button')].find((b) => b.textContent === 'Change password');
    open?.click();
    for (let i = 0; i < 50; i++) {
      const field = document.querySelector<HTMLInputElement>('#password input[name="new_password"]');
      if (field) {
        field.focus();
        return document.activeElement === field;
      }
      await Promise.resolve();
    }
    return false;
  });
  expect(reached).toBe(true);
  await page.keyboard.type('tractor');
  const next = section.getByLabel('New password', { exact: true });
  await expect(next).toHaveValue('tractor');
  await expect(next).toBeFocused();
  await expect(section.getByLabel('Current password', { exact: true })).toHaveValue('');
  await expect(section.locator('.strength-text')).toHaveText('Too short: 8 more characters.');
});

test('changing the password on one device signs out the other; the old password stops working', async ({ page, browser }) => {
  const account = newAccount();
  const next = strongPassword();
  const other = await browser.newContext({ baseURL: BASE_URL });
  try {
    const pageB = await other.newPage();
    const errorsB = trackPageErrors(pageB);
    await signUpViaApi(page, account);
    await signInViaApi(pageB, account.email, account.password);
    await gotoHydrated(page, SECURITY_PATH);
    const section = region(page, 'Password');
    await section.getByRole('button', { name: 'Change password' }).click();
    await section.getByLabel('Current password', { exact: true }).fill('not my password at all');
    await section.getByLabel('New password', { exact: true }).fill(next);
    // shown, then sent: hidden again (a password manager saves what is a password field, and
    // the password is not left on the screen)
    await section.getByRole('checkbox', { name: 'Show password' }).check();
    await expect(section.getByLabel('New password', { exact: true })).toHaveAttribute('type', 'text');
    await section.getByRole('button', { name: 'Update password' }).click();
    await expect(section.getByRole('checkbox', { name: 'Show password' })).not.toBeChecked();
    await expect(section.getByLabel('New password', { exact: true })).toHaveAttribute('type', 'password');
    const current = section.getByLabel('Current password', { exact: true });
    await expect(current).toHaveAccessibleDescription('Your current password is not correct.');
    await expect(current).toHaveAttribute('aria-invalid', 'true');
    await expect(current).toBeFocused();
    await expect(section.getByLabel('New password', { exact: true })).not.toHaveAttribute('aria-invalid', 'true');
    // what was typed is kept: correct the current password and try again
    await expect(section.getByLabel('New password', { exact: true })).toHaveValue(next);
    // the new password can be shown to check it (there is no second field to repeat it in); the
    // current one cannot
    const fresh = section.getByLabel('New password', { exact: true });
    await expect(fresh).toHaveAttribute('type', 'password');
    await section.getByRole('checkbox', { name: 'Show password' }).check();
    await expect(fresh).toHaveAttribute('type', 'text');
    await expect(fresh).toHaveValue(next);
    // (shown, it is still no text for a spelling service, capitals or autocorrection)
    await expect(fresh).toHaveAttribute('spellcheck', 'false');
    await expect(fresh).toHaveAttribute('autocapitalize', 'none');
    await expect(fresh).toHaveAttribute('autocorrect', 'off');
    await section.getByRole('checkbox', { name: 'Show password' }).uncheck();
    await expect(fresh).toHaveAttribute('type', 'password');
    await expect(section.getByRole('checkbox', { name: 'Show password' })).toHaveCount(1);
    await section.getByLabel('Current password', { exact: true }).fill(account.password);
    await section.getByRole('button', { name: 'Update password' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Password changed' })).toBeVisible();

    await pageB.goto(SECURITY_PATH);
    await expectPathname(pageB, '/sign-in');
    await page.reload();
    await expectSecurityPage(page);
    expect(await canSignIn(account.email, account.password)).toBe(false);
    expect(await canSignIn(account.email, next)).toBe(true);
    expect(errorsB).toEqual([]);
  } finally {
    await other.close();
  }
});

test('what a change says is drawn once, in the section as the change left it, and the keyboard goes to it once', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Password');
  await section.getByRole('button', { name: 'Change password' }).click();
  await section.getByLabel('Current password', { exact: true }).fill(account.password);
  await section.getByLabel('New password', { exact: true }).fill(strongPassword());
  // each drawing of the sentence, and each time the focus lands on it, counted
  await page.evaluate(() => {
    const w = window as unknown as { drawn: number; focused: number };
    const said = (el: Element) => el.matches('[role=status]') && (el.textContent ?? '').includes('Password changed');
    w.drawn = 0;
    w.focused = 0;
    new MutationObserver((changes) => {
      for (const change of changes) {
        for (const node of change.addedNodes) {
          if (node instanceof Element) w.drawn += [node, ...node.querySelectorAll('[role=status]')].filter(said).length;
        }
      }
    }).observe(document.body, { childList: true, subtree: true });
    document.addEventListener('focusin', (e) => {
      if (e.target instanceof Element && said(e.target)) w.focused += 1;
    });
  });
  const reading = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/security/overview');
  await section.getByLabel('New password', { exact: true }).press('Enter');
  // the page's reading after the change, and two frames for what it draws and focuses after it
  await reading;
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  const said = section.getByRole('status');
  await expect(said).toHaveText('Password changed. Your other sessions were signed out.');
  await expect(said).toBeFocused();
  // (a screen reader said it two or three times: drawn in the old drawing, focused, drawn again
  // with the new one and focused again)
  expect(await page.evaluate(() => {
    const w = window as unknown as { drawn: number; focused: number };
    return [w.drawn, w.focused];
  })).toEqual([1, 1]);
});

test('an account without a password sets one, and can then sign in with it', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  // as if it had signed up with Google: no password
  sql(`UPDATE users SET password_hash = NULL, password_changed_at = NULL WHERE email_normalized = ${literal(account.email)}`);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Password');
  await expect(section).toContainText('No password set');
  await expect(section.getByRole('button', { name: 'Change password' })).toHaveCount(0);
  await section.getByRole('button', { name: 'Set password' }).click();
  await expect(section.getByLabel('Current password', { exact: true })).toHaveCount(0);
  const chosen = strongPassword();
  await section.getByLabel('New password', { exact: true }).fill(chosen);
  await section.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password set' })).toBeVisible();
  await expect(section).toContainText('Password set');
  expect(await canSignIn(account.email, chosen)).toBe(true);
});

test('after the re-verification window, Revoke all others asks "Confirm it\'s you", then finishes', async ({ page, browser }) => {
  const account = newAccount();
  const other = await browser.newContext({ baseURL: BASE_URL });
  try {
    await signUpViaApi(page, account);
    await signInViaApi(await other.newPage(), account.email, account.password);
    await gotoHydrated(page, SECURITY_PATH);
    // signed in just now: verified, with a way to end it
    const banner = page.locator('.verified-banner');
    await expect(banner).toContainText(/Verified for (9|10) more minutes\./);
    await banner.getByRole('button', { name: 'End now' }).click();
    await expect(banner).toHaveCount(0);

    const sessions = region(page, 'Sessions');
    await sessions.getByRole('button', { name: 'Revoke all others' }).click();
    await page.getByRole('group', { name: 'Sign out of 1 other session?' }).getByRole('button', { name: 'Revoke 1 session' }).click();
    const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
    await expect(dialog).toBeVisible();
    await expect(dialog.getByLabel('Your password')).toBeFocused();
    // a wrong password says so and keeps the dialog open
    await dialog.getByLabel('Your password').fill('not my password at all');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await expect(dialog.getByRole('alert')).toHaveText('That password is not correct.');
    // the focus stays in the dialog, on the field (Confirm, disabled meanwhile, had dropped it),
    // which is marked invalid and read with the refusal
    await expect(dialog.getByLabel('Your password')).toBeFocused();
    await expect(dialog.getByLabel('Your password')).toHaveAttribute('aria-invalid', 'true');
    await expect(dialog.getByLabel('Your password')).toHaveAccessibleDescription('That password is not correct.');
    await dialog.getByLabel('Your password').fill(account.password);
    await expect(dialog.getByLabel('Your password')).not.toHaveAttribute('aria-invalid', 'true');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await expect(dialog).toHaveCount(0);
    // the action the person started is carried out
    await expect(page.getByRole('status').filter({ hasText: 'Signed out of 1 other session.' })).toBeVisible();
    await expect(sessions.getByRole('listitem')).toHaveCount(1);
    await expect(banner).toContainText(/Verified for (9|10) more minutes\./);
  } finally {
    await other.close();
  }
});

test('a window that ran out long ago also asks, and Escape cancels without doing anything', async ({ page, browser }) => {
  const account = newAccount();
  const other = await browser.newContext({ baseURL: BASE_URL });
  try {
    await signUpViaApi(page, account);
    await signInViaApi(await other.newPage(), account.email, account.password);
    await endVerificationWindow(page, account.email);
    await gotoHydrated(page, SECURITY_PATH);
    await expect(page.locator('.verified-banner')).toHaveCount(0);
    await region(page, 'Sessions').getByRole('button', { name: 'Revoke all others' }).click();
    await page.getByRole('button', { name: 'Revoke 1 session' }).click();
    const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
    await expect(dialog).toBeVisible();
    await page.keyboard.press('Escape');
    await expect(dialog).toHaveCount(0);
    await page.reload();
    await expectSecurityPage(page);
    await expect(region(page, 'Sessions').getByRole('listitem')).toHaveCount(2);
  } finally {
    await other.close();
  }
});

test.describe("an answer that is not Gatehouse's", () => {
  // (the browser logs the proxy's 502; one pattern: see activity.spec.ts)
  test.use({ allowedConsoleErrors: [new RegExp(`${HTTP_4XX_LOG.source}|^Failed to load resource: the server responded with a status of 502\\b`)] });

  test("a proxy's 502 page is said as Gatehouse being unavailable, not as a request it could not understand, and nothing typed is lost", async ({ page }) => {
    const account = newAccount();
    await signUpViaApi(page, account);
    await gotoHydrated(page, SECURITY_PATH);
    await page.route('**/api/security/password/change*', (route) =>
      route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>' }),
    );
    const section = region(page, 'Password');
    await section.getByRole('button', { name: 'Change password' }).click();
    await section.getByLabel('Current password', { exact: true }).fill(account.password);
    const next = strongPassword();
    await section.getByLabel('New password', { exact: true }).fill(next);
    await section.getByRole('button', { name: 'Update password' }).click();
    await expect(section.getByRole('alert')).toHaveText('Gatehouse is temporarily unavailable. Please try again in a minute.');
    await expect(section.getByLabel('New password', { exact: true })).toHaveValue(next);
  });
});
