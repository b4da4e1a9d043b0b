/**
 * Two-step verification end to end: set up an authenticator app by reading the key from the page
 * and computing codes here (otpauth), sign in with a code, refuse a reused code, sign in with a
 * backup code (once), regenerate, turn off; and an Enterprise member who must set it up first.
 */
import * as OTPAuth from 'otpauth';
import {
  type Account,
  accountNav,
  endVerificationWindow,
  expect,
  expectPathname,
  expectSecurityPage,
  gotoHydrated,
  holdOverviewReloads,
  HTTP_4XX_LOG,
  literal,
  mailsTo,
  newAccount,
  region,
  SAME_ORIGIN_HEADERS,
  SECURITY_PATH,
  BASE_URL,
  changePassword,
  signInViaApi,
  signUpViaApi,
  sql,
  submitSignInForm,
  test,
  turnOnAuthenticator,
  waitForHydration,
  waitForMail,
} from './fixtures';
import { request as playwrightRequest, type Page } from '@playwright/test';

test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });

function authenticator(key: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key.replaceAll(' ', '')), digits: 6, period: 30, algorithm: 'SHA1' });
}

/** Waits until the next 30-second step, so the next code differs from the last one used. */
async function nextStep(page: Page): Promise<void> {
  const ms = 30_000 - (Date.now() % 30_000) + 500;
  await page.waitForTimeout(ms);
}

/** Makes the account `email` a member of a new organisation on the Enterprise plan. */
function joinEnterprise(email: string): void {
  sql(`WITH org AS (INSERT INTO organizations (id, name, plan, created_at)
                    VALUES (gen_random_uuid(), 'Acme e2e', 'enterprise', now()) RETURNING id)
       UPDATE users SET organization_id = (SELECT id FROM org) WHERE email_normalized = ${literal(email)}`);
}

/** Turns the authenticator on from the page; answers the app and the backup codes shown. */
async function setUp(page: Page): Promise<{ totp: OTPAuth.TOTP; codes: string[] }> {
  const section = region(page, 'Two-step verification');
  await section.getByRole('button', { name: 'Set up authenticator app' }).click();
  await expect(section.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
  // the set-up takes the focus from the button it replaced: read from its first step
  await expect(section.getByRole('group', { name: 'Set up an authenticator app' })).toBeFocused();
  const key = (await section.getByTestId('manual-key').textContent()) ?? '';
  expect(key).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);
  const totp = authenticator(key);
  // Copy key, when the browser refuses: said in the status line, with what to do instead
  await page.evaluate(() => {
    navigator.clipboard.writeText = () => Promise.reject(new DOMException('Write permission denied.', 'NotAllowedError'));
  });
  await section.getByRole('button', { name: 'Copy key' }).click();
  await expect(section.getByRole('status').filter({ hasText: 'copy' })).toHaveText(
    "Your browser didn't allow copying. Select the text and copy it yourself.",
  );
  const field = section.getByLabel('Code from the app');
  await field.fill('000000');
  await section.getByRole('button', { name: 'Turn on' }).click();
  await expect(section.getByRole('alert')).toContainText('That code is not right');
  // back on the field (Turn on, disabled while the code was checked, had dropped the focus),
  // marked invalid and described by the refusal
  await expect(field).toBeFocused();
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(field).toHaveAccessibleDescription(/^Six digits\. It changes every 30 seconds\. That code is not right\./);
  await field.fill(totp.generate());
  await expect(field).not.toHaveAttribute('aria-invalid', 'true');
  await section.getByRole('button', { name: 'Turn on' }).click();
  const panel = section.getByRole('group', { name: 'Your backup codes' });
  await expect(panel.getByRole('listitem')).toHaveCount(10);
  // shown only now: the codes take the focus, so a screen reader reads them first
  await expect(panel).toBeFocused();
  const codes = (await panel.getByRole('listitem').allTextContents()).map((c) => c.trim());
  for (const c of codes) expect(c).toMatch(/^[2-9a-hjkmnp-z]{5}-[2-9a-hjkmnp-z]{5}$/);
  await expect(panel.getByRole('link', { name: 'Download' })).toHaveAttribute('download', 'gatehouse-backup-codes.txt');
  // Copy: the codes are on the clipboard, and a screen reader hears so (a status line)
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.evaluate(() => {
    // (the refusing stand-in above is removed: the browser's own clipboard)
    delete (navigator.clipboard as { writeText?: unknown }).writeText;
  });
  await panel.getByRole('button', { name: 'Copy' }).click();
  await expect(panel.getByRole('status')).toHaveText('Backup codes copied to the clipboard.');
  await expect(panel.getByRole('button', { name: 'Copied' })).toBeVisible();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  for (const c of codes) expect(copied).toContain(c);
  const done = panel.getByRole('button', { name: 'Done' });
  await expect(done).toBeDisabled();
  await panel.getByLabel('I have saved these codes').check();
  await done.focus();
  await page.keyboard.press('Enter');
  await expect(panel).toHaveCount(0);
  await expect(section.getByRole('button', { name: 'Regenerate backup codes' })).toBeFocused();
  await expect(section).toContainText('Authenticator app: on');
  await expect(section).toContainText('10 of 10 left');
  return { totp, codes };
}

test('"copied to the clipboard" stays when the page\'s refresh after turning the app on draws the codes again', async ({ page }) => {
  await signUpViaApi(page, newAccount());
  await gotoHydrated(page, SECURITY_PATH);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const section = region(page, 'Two-step verification');
  await section.getByRole('button', { name: 'Set up authenticator app' }).click();
  const key = (await section.getByTestId('manual-key').textContent()) ?? '';
  // the page's refresh after the change comes only once Copy was clicked (as on a slow network)
  const letGo = await holdOverviewReloads(page);
  await section.getByLabel('Code from the app').fill(authenticator(key).generate());
  await section.getByRole('button', { name: 'Turn on' }).click();
  const panel = section.getByRole('group', { name: 'Your backup codes' });
  await panel.getByRole('button', { name: 'Copy' }).click();
  await expect(panel.getByRole('status')).toHaveText('Backup codes copied to the clipboard.');
  letGo();
  // the section is drawn from the refresh ("set up just now"), the codes panel with it
  await expect(section).toContainText('Authenticator app: on');
  await expect(panel.getByRole('status')).toHaveText('Backup codes copied to the clipboard.');
  await expect(panel.getByRole('button', { name: 'Copied' })).toBeVisible();
});

test('a wrong code, then Cancel or Escape: the error leaves with the set-up, and the next set-up starts without it', async ({ page }) => {
  await signUpViaApi(page, newAccount());
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Two-step verification');
  const setUp = section.getByRole('group', { name: 'Set up an authenticator app' });
  for (const close of ['Cancel', 'Escape']) {
    await section.getByRole('button', { name: 'Set up authenticator app' }).click();
    await expect(setUp).toBeFocused();
    await expect(section.getByRole('alert')).toHaveCount(0);
    await setUp.getByLabel('Code from the app').fill('000000');
    await setUp.getByRole('button', { name: 'Turn on' }).click();
    await expect(section.getByRole('alert')).toHaveText('That code is not right. Check the app shows Gatehouse and your email, and enter the current code.');
    // what no code looks like is said as such (a backup code or a slip, not a wrong code)
    await setUp.getByLabel('Code from the app').fill(close === 'Cancel' ? 'abcdef' : '1234567');
    await setUp.getByRole('button', { name: 'Turn on' }).click();
    await expect(section.getByRole('alert')).toHaveText('A code from an authenticator app is 6 digits. Enter the one your app shows for Gatehouse.');
    if (close === 'Cancel') await setUp.getByRole('button', { name: 'Cancel' }).click();
    else await page.keyboard.press('Escape');
    await expect(setUp).toHaveCount(0);
    await expect(section.getByRole('alert')).toHaveCount(0);
    // the keyboard is back where it opened the set-up (not on the section's heading)
    await expect(section.getByRole('button', { name: 'Set up authenticator app' })).toBeFocused();
  }
});

test('a setup started again in another tab: the first tab says so instead of "not right", and the second one finishes', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const tabA = page;
  const tabB = await page.context().newPage();
  const start = async (tab: Page) => {
    await gotoHydrated(tab, SECURITY_PATH);
    const section = region(tab, 'Two-step verification');
    await section.getByRole('button', { name: 'Set up authenticator app' }).click();
    await expect(section.getByRole('img', { name: 'QR code for your authenticator app' })).toBeVisible();
    return { section, totp: authenticator((await section.getByTestId('manual-key').textContent()) ?? '') };
  };
  const a = await start(tabA);
  const b = await start(tabB);
  // tab A's app, tab A's page: its key was replaced by tab B's
  await a.section.getByLabel('Code from the app').fill(a.totp.generate());
  await a.section.getByRole('button', { name: 'Turn on' }).click();
  await expect(a.section.getByRole('alert')).toHaveText(
    'Setup was started again in another tab or window, so this QR code no longer works. Finish there, or start again here.',
  );
  await b.section.getByLabel('Code from the app').fill(b.totp.generate());
  await b.section.getByRole('button', { name: 'Turn on' }).click();
  await expect(b.section.getByRole('group', { name: 'Your backup codes' }).getByRole('listitem')).toHaveCount(10);
  await tabB.close();
});

async function signOutAndIn(page: Page, account: Account): Promise<void> {
  await accountNav(page).getByRole('button', { name: 'Sign out' }).click();
  await expectPathname(page, '/sign-in');
  await submitSignInForm(page, account.email, account.password);
  await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
}

test('set up, sign in with a code and with a backup code, each once; regenerate; turn off', async ({ page }) => {
  test.setTimeout(120_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  // optional on Free: after the password section
  const headings = await page.getByRole('heading', { level: 2 }).allTextContents();
  expect(headings.indexOf('Two-step verification')).toBeGreaterThan(headings.indexOf('Password'));
  const { totp, codes } = await setUp(page);
  // with a second factor the password rules ask for 8 characters, in the browser as on the server
  const passwordSection = region(page, 'Password');
  await passwordSection.getByRole('button', { name: 'Change password' }).click();
  await passwordSection.getByLabel('New password', { exact: true }).fill('tractor!s');
  await expect(passwordSection.locator('.strength-text')).toHaveText(/^Good\./);
  await passwordSection.getByRole('button', { name: 'Cancel' }).click();

  // sign in again: the password alone is not enough any more
  await signOutAndIn(page, account);
  await nextStep(page);
  const code = totp.generate();
  await page.getByLabel('6-digit code').fill(code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expectSecurityPage(page);
  await expect(region(page, 'Sessions').getByRole('listitem').first()).toContainText('Password + authenticator app');
  // an address that says a backup code signed in is not believed of a session that used the app
  await gotoHydrated(page, `${SECURITY_PATH}?backup_codes_left=3`);
  await expect(region(page, 'Two-step verification')).toContainText('10 of 10 left');
  await expect(page.getByText('You signed in with a backup code')).toHaveCount(0);

  // the same code cannot be used twice, and is said to be used (not "not right")
  await signOutAndIn(page, account);
  await page.getByLabel('6-digit code').fill(code);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('alert')).toHaveText('That code was already used. Wait for the next code in your authenticator app, then enter it.');

  // a backup code instead (any case, no hyphen): how many are left
  await page.getByRole('button', { name: 'Use a backup code instead' }).click();
  await page.getByLabel('Backup code').fill(codes[0].replace('-', '').toUpperCase());
  await page.getByRole('button', { name: 'Continue' }).click();
  await expectSecurityPage(page);
  await expect(page.getByRole('status').filter({ hasText: 'You signed in with a backup code; 9 left.' })).toBeVisible();
  await expect(region(page, 'Two-step verification')).toContainText('9 of 10 left');
  // said once: it leaves the address, and a reload does not say it again
  await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '');
  await page.reload();
  await waitForHydration(page);
  await expect(region(page, 'Two-step verification')).toContainText('9 of 10 left');
  await expect(page.getByText('You signed in with a backup code')).toHaveCount(0);
  // the number said is the account's own, not one a link wrote
  await gotoHydrated(page, `${SECURITY_PATH}?backup_codes_left=-5`);
  await expect(page.getByRole('status').filter({ hasText: 'You signed in with a backup code; 9 left.' })).toBeVisible();
  await expect(page.getByText('-5 left')).toHaveCount(0);

  // the same backup code is refused
  await signOutAndIn(page, account);
  await page.getByRole('button', { name: 'Use a backup code instead' }).click();
  await page.getByLabel('Backup code').fill(codes[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('alert')).toHaveText('That backup code is not right, or it has been used already.');
  // the refused code is selected in its field: typing the next one replaces it (it was appended,
  // "abcde-fghjkklmno-pqrst", refused again, a step nearer the lock-out)
  await expect(page.getByLabel('Backup code')).toBeFocused();
  await page.keyboard.type(codes[1]);
  await page.keyboard.press('Enter');
  await expectSecurityPage(page);

  // regenerate: old codes stop working, new ones work
  const section = region(page, 'Two-step verification');
  await section.getByRole('button', { name: 'Regenerate backup codes' }).click();
  await section.getByRole('button', { name: 'Regenerate codes' }).click();
  const panel = section.getByRole('group', { name: 'Your backup codes' });
  await expect(panel.getByRole('listitem')).toHaveCount(10);
  const fresh = (await panel.getByRole('listitem').allTextContents()).map((c) => c.trim());
  await panel.getByLabel('I have saved these codes').check();
  await panel.getByRole('button', { name: 'Done' }).click();
  await signOutAndIn(page, account);
  await page.getByRole('button', { name: 'Use a backup code instead' }).click();
  await page.getByLabel('Backup code').fill(codes[3]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('alert')).toContainText('not right');
  await page.getByLabel('Backup code').fill(fresh[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expectSecurityPage(page);

  // turn off: the password alone signs in again
  await section.getByRole('button', { name: 'Turn off' }).click();
  await section.getByRole('group', { name: 'Turn off two-step verification?' }).getByRole('button', { name: 'Turn off' }).click();
  await expect(section).toContainText('Two-step verification is off.');
  // said once (the summary), and the status line says what changed
  await expect(section.getByText('Two-step verification is off.')).toHaveCount(1);
  await expect(section.getByRole('status')).toHaveText('Turned off. Signing in no longer asks for a code, and your authenticator app and backup codes no longer work.');
  await accountNav(page).getByRole('button', { name: 'Sign out' }).click();
  await submitSignInForm(page, account.email, account.password);
  await expectSecurityPage(page);
});

test('turning off refused (the password is too short to stand alone) says why, and the keyboard stays on Turn off', async ({ page }) => {
  test.setTimeout(60_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  await setUp(page);
  await changePassword(page, account.password, 'tractor!s');
  const section = region(page, 'Two-step verification');
  await section.getByRole('button', { name: 'Turn off' }).click();
  const confirm = section.getByRole('group', { name: 'Turn off two-step verification?' });
  await confirm.getByRole('button', { name: 'Turn off' }).click();
  await expect(section.getByRole('alert')).toHaveText('Your password is shorter than 15 characters. Choose a longer password first, then turn this off.');
  // (disabled while the request ran, the button had dropped the focus to the page)
  await expect(confirm.getByRole('button', { name: 'Turn off' })).toBeFocused();
  await expect(section).toContainText('Authenticator app: on');
});

test('a second step that ran out sends the sign-in back to the password form, the email still filled in', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const totp = await turnOnAuthenticator(page);
  await signOutAndIn(page, account);
  sql(
    `UPDATE pending_sign_ins SET expires_at = now() - interval '1 minute'
     WHERE user_id = (SELECT id FROM users WHERE email_normalized = ${literal(account.email.toLowerCase())})`,
  );
  await page.getByLabel('6-digit code').fill(totp.generate());
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to Gatehouse' })).toBeVisible();
  await expect(page.getByRole('alert')).toHaveText('Your sign-in expired or had too many wrong codes. Sign in again.');
  await expect(page.getByLabel('Email', { exact: true })).toHaveValue(account.email);
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
});

test('a reload at the code step keeps it (it is in the address), and the sign-in finishes there', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const { codes } = await setUp(page);
  await signOutAndIn(page, account);
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('second_step') === '1');
  // (it came back as an empty sign-in form; and, once the page has asked whether a sign-in is
  // waiting for its code, it stays)
  const asked = page.waitForResponse((r) => r.url().endsWith('/api/auth/second-step/waiting'));
  await page.reload();
  await waitForHydration(page);
  expect(await (await asked).json()).toBe(true);
  await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
  await expect(page.getByRole('status')).toHaveCount(0);
  await page.getByRole('button', { name: 'Use a backup code instead' }).click();
  await page.getByLabel('Backup code').fill(codes[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expectSecurityPage(page);
});

test('Back to sign in leaves the code step: the form is back with the email, the keyboard on the password, and that sign-in takes no code', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const totp = await turnOnAuthenticator(page);
  await signOutAndIn(page, account);
  const pending = (await page.context().cookies()).find((c) => c.name === '__Host-gatehouse-pending');
  expect(pending).toBeDefined();
  await expect(page.getByText('Have a passkey for this account? It signs you in without a code.')).toBeVisible();
  await expect(page).toHaveURL((url) => url.searchParams.get('second_step') === '1');
  await page.getByRole('button', { name: 'Back to sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to Gatehouse' })).toBeVisible();
  // (a reload must not bring the code step back)
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && !url.searchParams.has('second_step'));
  await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeVisible();
  await expect(page.getByLabel('Email', { exact: true })).toHaveValue(account.email);
  await expect(page.getByLabel('Password', { exact: true })).toBeFocused();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect.poll(() => sql(`SELECT count(*) FROM pending_sign_ins p JOIN users u ON u.id = p.user_id
    WHERE u.email_normalized = ${literal(account.email.toLowerCase())}`)).toBe('0');
  // whoever comes to this computer next, with the old cookie put back, cannot finish it
  await page.context().addCookies([pending!]);
  const late = await page.request.post('/api/auth/second-step', {
    form: { code: totp.generate(), method: 'totp' },
    headers: SAME_ORIGIN_HEADERS,
    maxRedirects: 0,
  });
  expect(late.status()).toBe(401);
  expect(await late.text()).toContain('SignInAgain');
  // the next password asks for a code again, and the right one signs in
  await page.getByLabel('Password', { exact: true }).fill(account.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  // (the next step's code: the one of this step may have turned the authenticator on, and each
  // code works once; one step of skew is allowed)
  await page.getByLabel('6-digit code').fill(totp.generate({ timestamp: Date.now() + 30_000 }));
  await page.getByRole('button', { name: 'Continue' }).click();
  await expectSecurityPage(page);
});

test('with the keyboard: the second step has the code field focused, keeps it after a wrong code, and a switch sets the old error aside', async ({ page }) => {
  // (the browser's clock, timers included, is Playwright's from here: it runs on at its own pace
  // until paused)
  await page.clock.install();
  const account = newAccount();
  await signUpViaApi(page, account);
  await turnOnAuthenticator(page);
  await accountNav(page).getByRole('button', { name: 'Sign out' }).click();
  await expectPathname(page, '/sign-in');
  await page.waitForSelector('html[data-hydrated]');
  await page.getByLabel('Email', { exact: true }).fill(account.email);
  await page.getByLabel('Password', { exact: true }).fill(account.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
  await expect(page).toHaveTitle('Two-step verification · Gatehouse');
  const code = page.getByLabel('6-digit code');
  await expect(code).toBeFocused();
  // what to enter is read with the field the keyboard lands in
  await expect(code).toHaveAccessibleDescription('Enter the code from your authenticator app.');
  // a stray Enter in the empty field: named as missing (and it costs none of the five tries)
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toHaveText('Enter the 6-digit code from your authenticator app.');
  await expect(code).toBeFocused();
  await page.keyboard.type('000000');
  // Continue from its button: disabled while the code is checked, it would drop the focus
  await page.getByRole('button', { name: 'Continue' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toHaveText('That code is not right. Enter the current code from your authenticator app.');
  await expect(code).toBeFocused();
  // the field is marked invalid, and read with the refusal
  await expect(code).toHaveAttribute('aria-invalid', 'true');
  await expect(code).toHaveAccessibleDescription(
    'Enter the code from your authenticator app. That code is not right. Enter the current code from your authenticator app.',
  );
  // the same wrong code again: the same sentence, said again (a new alert, not the old one left
  // standing, which a screen reader would not announce and an eye could not tell from no answer)
  const first = await page.getByRole('alert').elementHandle();
  // (the tenth of a second it is away, held here by pausing the page's clock: every id that
  // describes the field still names an element, an empty one meanwhile)
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);
  await page.keyboard.press('Enter');
  await expect.poll(() => first!.evaluate((el) => el.isConnected)).toBe(false);
  await expect(page.getByRole('alert')).toHaveCount(0);
  const describedBy = ((await code.getAttribute('aria-describedby')) ?? '').split(' ');
  expect(describedBy).toHaveLength(2);
  for (const id of describedBy) await expect(page.locator(`[id="${id}"]`)).toHaveCount(1);
  // (the refusal's, meanwhile: empty and hidden)
  await expect(page.locator(`[id="${describedBy[1]}"]`)).toBeHidden();
  await expect(page.locator(`[id="${describedBy[1]}"]`)).toBeEmpty();
  await page.clock.resume();
  await expect(page.getByRole('alert')).toHaveText('That code is not right. Enter the current code from your authenticator app.');
  await expect(code).toBeFocused();
  // a code cut short is said as such
  await code.fill('12');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toHaveText('That code is too short. Enter all 6 digits your authenticator app shows.');
  await page.getByRole('button', { name: 'Use a backup code instead' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Backup code')).toBeFocused();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await page.keyboard.type('aaaaa-bbbbb');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toHaveText('That backup code is not right, or it has been used already.');
  await expect(page.getByLabel('Backup code')).toBeFocused();
  await expect(page.getByLabel('Backup code')).toHaveAttribute('aria-invalid', 'true');
  // typing again: no longer marked, until the next answer
  await page.keyboard.press('Backspace');
  await expect(page.getByLabel('Backup code')).not.toHaveAttribute('aria-invalid', 'true');
});

test('the code step\'s address with no sign-in waiting for a code (expired, or kept): the sign-in form, saying so', async ({ page }) => {
  await gotoHydrated(page, '/sign-in?second_step=1&return_to=%2Fsettings%2Fsecurity');
  await expect(page.getByRole('status')).toHaveText('Your sign-in expired. Sign in again.');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in to Gatehouse');
  await expect(page).toHaveTitle('Sign in · Gatehouse');
  await expect(page.getByLabel('6-digit code')).toHaveCount(0);
  // the sentence has the keyboard (a screen reader reads it), the address no longer asks for the
  // code step (a reload), and where the person was going is kept
  await expect(page.getByRole('status')).toBeFocused();
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && !url.searchParams.has('second_step') && url.searchParams.get('return_to') === '/settings/security');
  await page.getByLabel('Email', { exact: true }).fill('someone@example.test');
  await expect(page.getByRole('status')).toHaveText('Your sign-in expired. Sign in again.');
});

test('an Enterprise member must set up two-step verification before anything else, and setting it up signs out the sessions that signed in without a code', async ({ page }) => {
  test.setTimeout(60_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  joinEnterprise(account.email);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Two-step verification');
  await expect(section).toContainText('Your organisation requires two-step verification');
  // …and it comes first on the page
  expect((await page.getByRole('heading', { level: 2 }).allTextContents())[0]).toBe('Two-step verification');
  // anything else is refused with a clear message
  const refused = await page.request.post('/api/security/password/change', {
    form: { current_password: account.password, new_password: 'purple tractors sing at dawn' },
    headers: SAME_ORIGIN_HEADERS,
  });
  expect(refused.status()).toBe(403);
  expect(await refused.text()).toContain('SecondFactorRequired');
  // …which the page says before anyone fills in a form: the buttons wait, and say why
  const changePassword = region(page, 'Password').getByRole('button', { name: 'Change password' });
  await expect(changePassword).toBeDisabled();
  await expect(changePassword).toHaveAccessibleDescription(
    'Your organisation requires two-step verification first. Set it up above; then you can change your password here.',
  );
  const connectGoogle = region(page, 'Connected accounts').getByRole('button', { name: 'Connect Google' });
  await expect(connectGoogle).toBeDisabled();
  await expect(connectGoogle).toHaveAccessibleDescription(
    'Your organisation requires two-step verification first. Set it up above; then you can connect and disconnect accounts here.',
  );
  // New passkey waits too (a passkey this session added would sign in with both steps)
  const newPasskey = region(page, 'Passkeys').getByRole('button', { name: 'New passkey' });
  await expect(newPasskey).toBeDisabled();
  await expect(newPasskey).toHaveAccessibleDescription(
    'Your organisation requires two-step verification first. Set it up above; then you can add passkeys here.',
  );
  const begin = await page.request.post('/api/security/passkeys/begin', { headers: SAME_ORIGIN_HEADERS });
  expect(begin.status()).toBe(403);
  expect(await begin.text()).toContain('SecondFactorRequired');
  // …except ending sessions, which only takes access away: a session she does not recognise ends now
  const other = await playwrightRequest.newContext({ baseURL: BASE_URL });
  await signInViaApi(other, account.email, account.password);
  await page.reload();
  await waitForHydration(page);
  const sessions = region(page, 'Sessions');
  await sessions.getByRole('button', { name: 'Revoke all others' }).click();
  await page.getByRole('group', { name: 'Sign out of 1 other session?' }).getByRole('button', { name: 'Revoke 1 session' }).click();
  await expect(sessions.getByRole('status')).toHaveText('Signed out of 1 other session.');
  expect(await (await other.get('/api/session')).text()).toBe('null');
  // a password sign-in from before the setup could only set the app up: the setup ends it, where
  // it would otherwise gain the whole account
  await signInViaApi(other, account.email, account.password);
  expect((await (await other.get('/api/session')).json())?.email).toBe(account.email.toLowerCase());
  // once set up, everything works, and it cannot be turned off
  await setUp(page);
  await expect(section.getByRole('status').filter({ hasText: 'signed out' })).toHaveText(
    'Two-step verification is on. We signed out 1 other session that signed in without a code: signing in there again asks for a code from your app.',
  );
  expect(await (await other.get('/api/session')).text()).toBe('null');
  await other.dispose();
  const turnOff = section.getByRole('button', { name: 'Turn off' });
  await expect(turnOff).toBeDisabled();
  // why, on the page (a disabled button's tooltip reaches no keyboard, touch or screen-reader user)
  const why = "Your organisation requires two-step verification, so it can't be turned off. To move it to a new phone or app, use Change authenticator app.";
  await expect(turnOff).toHaveAccessibleDescription(why);
  await expect(section.getByText(why)).toBeVisible();
  // and the call to set one up is gone, now that it is done; the buttons that waited for it work
  await expect(section.getByText('Set up an authenticator app to continue using your account', { exact: false })).toHaveCount(0);
  await expect(changePassword).toBeEnabled();
  await expect(connectGoogle).toBeEnabled();
  await expect(newPasskey).toBeEnabled();
  await expect(region(page, 'Passkeys').getByText('requires two-step verification first')).toHaveCount(0);
  const allowed = await page.request.post('/api/security/password/change', {
    form: { current_password: 'wrong password here', new_password: 'purple tractors sing at dawn' },
    headers: SAME_ORIGIN_HEADERS,
  });
  expect(allowed.status()).toBe(422);
});

test('an Enterprise member moves the app to a new phone: the old app works until the new one\'s code, then only the new one signs in, the backup codes kept, and the owner is emailed', async ({ page }) => {
  test.setTimeout(120_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  joinEnterprise(account.email);
  await gotoHydrated(page, SECURITY_PATH);
  const { totp: old, codes } = await setUp(page);
  const section = region(page, 'Two-step verification');
  // it cannot be turned off here, and the page says what can be done instead
  await expect(section.getByRole('button', { name: 'Turn off' })).toHaveAccessibleDescription(
    "Your organisation requires two-step verification, so it can't be turned off. To move it to a new phone or app, use Change authenticator app.",
  );
  const change = section.getByRole('button', { name: 'Change authenticator app' });
  await change.click();
  const panel = section.getByRole('group', { name: 'Change your authenticator app' });
  await expect(panel).toBeFocused();
  await expect(panel).toContainText('Your current app keeps working until you enter a code from the new one; your backup codes stay the same.');
  // Cancel: nothing changed, the keyboard back on Change authenticator app
  await panel.getByRole('button', { name: 'Cancel' }).click();
  await expect(change).toBeFocused();
  await change.click();
  const fresh = authenticator((await section.getByTestId('manual-key').textContent()) ?? '');
  expect(fresh.secret.base32).not.toBe(old.secret.base32);
  // a code from the old app does not change it
  const field = section.getByLabel('Code from the app');
  await field.fill(old.generate());
  await section.getByRole('button', { name: 'Change app' }).click();
  await expect(section.getByRole('alert')).toContainText('That code is not right');
  await expect(field).toBeFocused();
  const notices = (await mailsTo(account.email)).length;
  await field.fill(fresh.generate());
  await section.getByRole('button', { name: 'Change app' }).click();
  const said = section.getByRole('status').filter({ hasText: 'Authenticator app changed.' });
  await expect(said).toHaveText('Authenticator app changed. Codes from your earlier app no longer work; your backup codes are unchanged.');
  await expect(panel).toHaveCount(0);
  // the keyboard (and a screen reader) on what happened, not back at the top of the page
  await expect(said).toBeFocused();
  await expect(section).toContainText('10 of 10 left');
  const notice = await waitForMail(account.email, 'The authenticator app of your Gatehouse account was changed', { after: notices });
  expect(notice.text).toContain('change the authenticator app to your own (or turn two-step verification off)');

  // the old app's code is refused at sign-in; the new app's signs in; a backup code still does
  await nextStep(page);
  await signOutAndIn(page, account);
  await page.getByLabel('6-digit code').fill(old.generate());
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByRole('alert')).toContainText('not right');
  await page.getByLabel('6-digit code').fill(fresh.generate());
  await page.getByRole('button', { name: 'Continue' }).click();
  await expectSecurityPage(page);
  await signOutAndIn(page, account);
  await page.getByRole('button', { name: 'Use a backup code instead' }).click();
  await page.getByLabel('Backup code').fill(codes[0]);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expectSecurityPage(page);
});

test('after the re-verification window, a code from the authenticator app confirms it is you', async ({ page }) => {
  test.setTimeout(90_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const { totp } = await setUp(page);
  await endVerificationWindow(page, account.email);
  const section = region(page, 'Two-step verification');
  await section.getByRole('button', { name: 'Regenerate backup codes' }).click();
  await section.getByRole('button', { name: 'Regenerate codes' }).click();
  const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
  // a wrong password first: its error goes when the switch to a code does, and the keyboard goes
  // to the code's field (it stayed on the switch, after the new field)
  await dialog.getByLabel('Your password').fill('not the password at all');
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(dialog.getByRole('alert')).toHaveCount(1);
  await dialog.getByRole('button', { name: 'Use a code from your authenticator app' }).click();
  const code = dialog.getByLabel('Code from your authenticator app');
  await expect(code).toBeFocused();
  await expect(dialog.getByRole('alert')).toHaveCount(0);
  await code.fill('000000');
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(dialog.getByRole('alert')).toContainText('That code is not right');
  // the code that turned the app on is used up: wait for the next one
  await nextStep(page);
  await code.fill(totp.generate());
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(dialog).toHaveCount(0);
  // …and the regeneration it interrupted carries on
  await expect(section.getByRole('group', { name: 'Your backup codes' }).getByRole('listitem')).toHaveCount(10);
});

test('with its password turned off, as after "This wasn\'t me", the account confirms it is you with a code from its app', async ({ page }) => {
  test.setTimeout(90_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const { totp } = await setUp(page);
  // (what a report does to the password; this session, the owner's, stays signed in)
  sql(`UPDATE users SET password_hash = NULL WHERE email_normalized = ${literal(account.email.toLowerCase())}`);
  await endVerificationWindow(page, account.email);
  await gotoHydrated(page, SECURITY_PATH);
  const password = region(page, 'Password');
  await password.getByRole('button', { name: 'Set password' }).click();
  await password.getByLabel('New password', { exact: true }).fill('a new password nobody else knows');
  await password.getByRole('button', { name: 'Set password' }).click();
  const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
  // the code's field, at once: no password to switch from, and no dead end ("sign in again",
  // which nothing could do)
  const code = dialog.getByLabel('Code from your authenticator app');
  await expect(code).toBeFocused();
  await expect(dialog.getByLabel('Your password')).toHaveCount(0);
  await expect(dialog.getByRole('button', { name: 'Use your password instead' })).toHaveCount(0);
  await nextStep(page);
  await code.fill(totp.generate());
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(dialog).toHaveCount(0);
  // …and the change it interrupted carries on
  await expect(password.getByText('Password set. You can now sign in with your email and password')).toBeVisible();
});
