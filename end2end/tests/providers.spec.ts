/**
 * Connected accounts end to end, through the local provider that stands in for Google and GitHub
 * (tools/idp, started by Playwright's webServer): sign up with "Google", set a password, disconnect,
 * sign in with the password; connect GitHub after re-verification and sign in with it; the only
 * way to sign in cannot be disconnected; an email already in use is refused; an account with an
 * authenticator app still asks for its code; a cancel lands calmly on sign-in.
 */
import type { Browser, BrowserContext, Page } from '@playwright/test';
import {
  accountNav,
  BASE_URL,
  endVerificationWindow,
  expect,
  expectPathname,
  expectSecurityPage,
  gotoHydrated,
  HTTP_4XX_LOG,
  linkTo,
  literal,
  newAccount,
  region,
  SAME_ORIGIN_HEADERS,
  SECURITY_PATH,
  signInViaApi,
  signUpViaApi,
  sql,
  strongPassword,
  submitSignInForm,
  test,
  trackPageErrors,
  turnOnAuthenticator,
  uniqueEmail,
  waitForMail,
} from './fixtures';
import { IDP_URL } from '../base-url';

// (the provider's page has no favicon: its 404 is logged)
test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });

type Provider = 'Google' | 'GitHub';

/** At the local provider's page: who signs in, then Continue. Ends back on Gatehouse. */
async function consent(page: Page, provider: Provider, email: string, opts: { verified?: boolean } = {}): Promise<void> {
  await expect(page).toHaveURL((url) => url.origin === IDP_URL);
  await expect(page.getByRole('heading', { name: 'Local development provider' })).toBeVisible();
  await expect(page.getByText(`This page stands in for ${provider} on this machine.`)).toBeVisible();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Name', { exact: true }).fill('Grace Hopper');
  if (provider === 'GitHub') await page.getByLabel('Username', { exact: true }).fill(`gh-${email.split('@')[0]}`);
  if (opts.verified === false) await page.getByLabel('Email verified').uncheck();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL((url) => url.origin !== IDP_URL);
}

/** "Continue with <provider>" on the current (hydrated) sign-in or sign-up page, then consent. */
async function continueWith(page: Page, provider: Provider, email: string): Promise<void> {
  await page.getByRole('button', { name: `Continue with ${provider}` }).click();
  await consent(page, provider, email);
}

async function signOut(page: Page): Promise<void> {
  await accountNav(page).getByRole('button', { name: 'Sign out' }).click();
  await expectPathname(page, '/sign-in');
}

test('sign up with Google, set a password, disconnect Google, then sign in with the password', async ({ page }) => {
  const email = uniqueEmail();
  await gotoHydrated(page, '/sign-up');
  await expect(page.getByText('Development: these buttons use a local stand-in provider')).toBeVisible();
  await continueWith(page, 'Google', email);
  await expectSecurityPage(page);
  // a new account says so (it must not pass for one the person already had)
  await expect(region(page, 'Connected accounts').getByRole('status')).toHaveText(
    'Welcome to Gatehouse. This new account was made with your Google account: sign in with Google next time, or add a password or a passkey here. Already had an account? Sign out, sign in to it, and connect Google there.',
  );
  // the name comes from Google
  await expect(accountNav(page)).toContainText('Grace Hopper');
  await expect(region(page, 'Sessions').getByRole('listitem').first()).toContainText('Google');

  // Google is the only way to sign in: Disconnect is off, says why, and the server refuses too
  const connected = region(page, 'Connected accounts');
  await expect(connected).toContainText(email);
  const disconnect = connected.getByRole('button', { name: 'Disconnect Google' });
  await expect(disconnect).toBeDisabled();
  await expect(disconnect).toHaveAccessibleDescription('This is your only way to sign in. Set a password or add a passkey first.');
  const refused = await page.request.post('/api/security/connected-accounts/disconnect', { form: { provider: 'Google' }, headers: SAME_ORIGIN_HEADERS });
  expect(refused.status()).toBe(422);
  expect(await refused.text()).toContain('Google is your only way to sign in. Set a password or add a passkey first.');

  // Set password (the account has none), then Google can go
  const password = strongPassword();
  const section = region(page, 'Password');
  await expect(section).toContainText('No password set · you sign in another way. Add one to sign in with your email too.');
  await expect(section.getByText('You have no way to sign in.')).toHaveCount(0);
  await section.getByRole('button', { name: 'Set password' }).click();
  await section.getByLabel('New password', { exact: true }).fill(password);
  await section.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password set' })).toBeVisible();
  await expect(disconnect).toBeEnabled();
  await disconnect.click();
  const confirm = connected.getByRole('group', { name: 'Disconnect Google?' });
  await confirm.getByRole('button', { name: 'Disconnect Google' }).click();
  await expect(connected.getByRole('status')).toHaveText('Google is disconnected. It can no longer sign in to your account.');
  await expect(connected.getByRole('button', { name: 'Connect Google' })).toBeVisible();
  // the card no longer names that Google account; Recent security activity still does
  await expect(connected).not.toContainText(email);
  const activity = region(page, 'Recent security activity').locator('.activity-sentence');
  await expect(activity.filter({ hasText: /^Disconnected Google/ })).toHaveText([`Disconnected Google (${email})`]);
  await expect(activity.filter({ hasText: /^Connected Google/ })).toHaveText([`Connected Google (${email})`]);

  await signOut(page);
  await submitSignInForm(page, email, password);
  await expectSecurityPage(page);
  await expect(region(page, 'Sessions').getByRole('listitem').first()).toContainText('Password');
});

/** Signs up with Google in `page`, then sets a password there: the account's other way in. */
async function googleAccountWithPassword(page: Page): Promise<{ email: string; password: string }> {
  const email = uniqueEmail();
  await gotoHydrated(page, '/sign-up');
  await continueWith(page, 'Google', email);
  await expectSecurityPage(page);
  const password = strongPassword();
  const section = region(page, 'Password');
  await section.getByRole('button', { name: 'Set password' }).click();
  await section.getByLabel('New password', { exact: true }).fill(password);
  await section.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password set' })).toBeVisible();
  return { email, password };
}

/** Another browser, signed in with the password, on Security & Access (its page errors tracked). */
async function anotherBrowser(
  browser: Browser,
  email: string,
  password: string,
): Promise<{ context: BrowserContext; desk: Page; deskErrors: string[] }> {
  const context = await browser.newContext({ baseURL: BASE_URL });
  const desk = await context.newPage();
  const deskErrors = trackPageErrors(desk, [HTTP_4XX_LOG]);
  await signInViaApi(desk, email, password);
  await gotoHydrated(desk, SECURITY_PATH);
  return { context, desk, deskErrors };
}

test('"This wasn\'t me" about a sign-in with Google disconnects Google: whoever got in with it cannot sign in with it again', async ({ page, browser }) => {
  test.setTimeout(90_000);
  const { email } = await googleAccountWithPassword(page);
  // someone else, on another network, continues with the owner's Google account
  const intruder = await browser.newContext({ baseURL: BASE_URL, extraHTTPHeaders: { 'X-Forwarded-For': '203.0.113.201' } });
  const intruderPage = await intruder.newPage();
  await gotoHydrated(intruderPage, '/sign-in');
  await continueWith(intruderPage, 'Google', email);
  await expectSecurityPage(intruderPage);
  const alert = await waitForMail(email, /^New sign-in to your Gatehouse account from /);
  expect(alert.text).toContain('Signed in with: Google');

  const reader = await browser.newContext({ baseURL: BASE_URL });
  const readerPage = await reader.newPage();
  await gotoHydrated(readerPage, linkTo(alert, '/this-wasnt-me'));
  const main = readerPage.getByRole('main');
  await expect(main).toContainText('remove any passkey, connected account or authenticator app they added or got in with');
  await main.getByRole('button', { name: 'Secure my account' }).click();
  await expect(main.getByRole('heading', { name: 'That device is signed out' })).toBeVisible();
  await expect(main).toContainText(
    'Also removed because that sign-in got in with it: the connected Google account. Secure it before you add it again.',
  );
  await reader.close();

  // their session is over, and Google no longer signs anyone in to the account
  await intruderPage.goto(SECURITY_PATH);
  await expectPathname(intruderPage, '/sign-in');
  await intruder.clearCookies();
  await gotoHydrated(intruderPage, '/sign-in');
  await continueWith(intruderPage, 'Google', email);
  await expectPathname(intruderPage, '/sign-in');
  expect(await (await intruderPage.request.get('/api/session')).json()).toBeNull();
  await intruder.close();
  // the owner's own session, older than that sign-in, stays; Google is gone from her page
  await gotoHydrated(page, SECURITY_PATH);
  await expect(region(page, 'Connected accounts').getByRole('button', { name: 'Connect Google' })).toBeVisible();
});

test('"This wasn\'t me" that takes away a Google-only account\'s Google: the owner\'s page warns that nothing signs in now, until a password is set', async ({ page, browser }) => {
  test.setTimeout(90_000);
  const email = uniqueEmail();
  await gotoHydrated(page, '/sign-up');
  await continueWith(page, 'Google', email);
  await expectSecurityPage(page);
  // someone else, on another network, continues with the owner's Google account; she reports it
  const intruder = await browser.newContext({ baseURL: BASE_URL, extraHTTPHeaders: { 'X-Forwarded-For': '203.0.113.202' } });
  try {
    const intruderPage = await intruder.newPage();
    await gotoHydrated(intruderPage, '/sign-in');
    await continueWith(intruderPage, 'Google', email);
    await expectSecurityPage(intruderPage);
  } finally {
    await intruder.close();
  }
  const alert = await waitForMail(email, /^New sign-in to your Gatehouse account from /);
  const reader = await browser.newContext({ baseURL: BASE_URL });
  try {
    const readerPage = await reader.newPage();
    await gotoHydrated(readerPage, linkTo(alert, '/this-wasnt-me'));
    await readerPage.getByRole('main').getByRole('button', { name: 'Secure my account' }).click();
    await expect(readerPage.getByRole('main')).toContainText('Also removed because that sign-in got in with it: the connected Google account.');
  } finally {
    await reader.close();
  }
  // her own session stays, and its page does not say she signs in another way
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Password');
  await expect(section.getByText('You have no way to sign in.')).toBeVisible();
  await expect(section).toContainText(
    'Your account has no password, passkey or connected account. Set a password before you sign out; otherwise only Forgot password on the sign-in page gets you back in.',
  );
  await expect(section).not.toContainText('you sign in another way');
  // a password is a way in: the warning goes
  await section.getByRole('button', { name: 'Set password' }).click();
  await section.getByLabel('New password', { exact: true }).fill(strongPassword());
  await section.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password set' })).toBeVisible();
  await expect(section.getByText('You have no way to sign in.')).toHaveCount(0);
});

test('disconnecting Google from another browser signs out the session that signed in with it, when left ticked', async ({ page, browser }) => {
  const { email, password } = await googleAccountWithPassword(page);
  // this browser's own Google session is not asked about
  const mine = region(page, 'Connected accounts');
  await mine.getByRole('button', { name: 'Disconnect Google' }).click();
  await expect(mine.getByRole('group', { name: 'Disconnect Google?' })).toBeVisible();
  await expect(mine.getByRole('checkbox')).toHaveCount(0);
  await mine.getByRole('button', { name: 'Cancel' }).click();

  // another browser, signed in with the password, disconnects Google
  const { context, desk, deskErrors } = await anotherBrowser(browser, email, password);
  const connected = region(desk, 'Connected accounts');
  await connected.getByRole('button', { name: 'Disconnect Google' }).click();
  const confirm = connected.getByRole('group', { name: 'Disconnect Google?' });
  await expect(confirm.getByRole('checkbox', { name: 'Also sign out the other session that signed in with it' })).toBeChecked();
  await confirm.getByRole('button', { name: 'Disconnect Google' }).click();
  await expect(connected.getByRole('status')).toHaveText(
    'Google is disconnected. It can no longer sign in to your account, and the session that signed in with it is signed out.',
  );
  await expect(region(desk, 'Recent security activity')).toContainText('Ended the other session that signed in with Google');
  // the first browser is signed out
  await page.reload();
  await expectPathname(page, '/sign-in');
  expect(deskErrors).toEqual([]);
  await context.close();
});

test('a page opened before someone signed in with Google still signs that session out when it disconnects Google', async ({ page, browser }) => {
  const { email, password } = await googleAccountWithPassword(page);
  await signOut(page);

  // the owner's page, loaded while no other session had signed in with Google: nothing to ask
  const { context, desk, deskErrors } = await anotherBrowser(browser, email, password);
  await expect(region(desk, 'Sessions').getByRole('listitem')).toHaveCount(1);

  // then someone signs in with that Google account
  await gotoHydrated(page, '/sign-in');
  await continueWith(page, 'Google', email);
  await expectSecurityPage(page);

  // the owner disconnects Google from the page as it was: the new session ends with it
  const connected = region(desk, 'Connected accounts');
  await connected.getByRole('button', { name: 'Disconnect Google' }).click();
  const confirm = connected.getByRole('group', { name: 'Disconnect Google?' });
  await expect(confirm.getByRole('checkbox')).toHaveCount(0);
  await confirm.getByRole('button', { name: 'Disconnect Google' }).click();
  await expect(connected.getByRole('status')).toHaveText(
    'Google is disconnected. It can no longer sign in to your account, and the session that signed in with it is signed out.',
  );
  await page.reload();
  await expectPathname(page, '/sign-in');
  expect(deskErrors).toEqual([]);
  await context.close();
});

test('disconnecting Google with the box unticked leaves the session that signed in with it signed in', async ({ page, browser }) => {
  const { email, password } = await googleAccountWithPassword(page);

  const { context, desk, deskErrors } = await anotherBrowser(browser, email, password);
  const connected = region(desk, 'Connected accounts');
  await connected.getByRole('button', { name: 'Disconnect Google' }).click();
  const confirm = connected.getByRole('group', { name: 'Disconnect Google?' });
  await expect(confirm).toHaveAccessibleDescription(`You won't be able to sign in with this Google account (${email}) any more.`);
  await confirm.getByRole('checkbox', { name: 'Also sign out the other session that signed in with it' }).uncheck();
  await expect(confirm).toContainText('That session stays signed in. You can sign it out later under Sessions.');
  await confirm.getByRole('button', { name: 'Disconnect Google' }).click();
  await expect(connected.getByRole('status')).toHaveText('Google is disconnected. It can no longer sign in to your account.');
  await expect(region(desk, 'Sessions').getByRole('listitem')).toHaveCount(2);
  // the first browser is still signed in
  await page.reload();
  await expectSecurityPage(page);
  expect(deskErrors).toEqual([]);
  await context.close();
});

test('connect GitHub to a password account after re-verification, sign out, sign in with GitHub', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  // the sign-in is older than the re-verification window
  await endVerificationWindow(page, account.email);
  // an address made to say GitHub is connected, when it is not, says nothing
  await gotoHydrated(page, `${SECURITY_PATH}?provider=github&provider_outcome=connected`);
  const connected = region(page, 'Connected accounts');
  await expect(connected.getByRole('listitem').filter({ hasText: 'GitHub' })).toContainText('Not connected');
  await expect(page.getByText('GitHub is connected.')).toHaveCount(0);
  await connected.getByRole('button', { name: 'Connect GitHub' }).click();
  const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
  await dialog.getByLabel('Your password').fill(account.password);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  // a different address at GitHub: linking never looks at emails
  const githubEmail = uniqueEmail();
  await consent(page, 'GitHub', githubEmail);
  await expectSecurityPage(page);
  await expect(connected.getByRole('status')).toHaveText('GitHub is connected. You can now sign in with it.');
  // named by the login GitHub's people know it by, its email beside
  await expect(connected.getByRole('listitem').filter({ hasText: 'GitHub' }).locator('.connected-account')).toHaveText(
    `@gh-${githubEmail.split('@')[0]} · ${githubEmail}`,
  );
  await expect(connected.getByRole('listitem').filter({ hasText: 'GitHub' })).toContainText('Not used to sign in yet');

  await signOut(page);
  await page.waitForSelector('html[data-hydrated]');
  await continueWith(page, 'GitHub', githubEmail);
  await expectSecurityPage(page);
  await expect(accountNav(page)).toContainText(account.email);
  await expect(region(page, 'Sessions').getByRole('listitem').first()).toContainText('GitHub');
  await expect(connected.getByRole('listitem').filter({ hasText: 'GitHub' })).toContainText('Last used to sign in');
});

test("signing in with Google keeps this browser trusted by the accounts it signed in to before", async ({ page }) => {
  // an account that signed up in this browser (its device cookie names it), then signed out
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  await signOut(page);
  // someone else's guesses have locked that account's shared path (fast-forwarded: 50 failures)
  sql(`INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at, locked_until)
       SELECT id, '', 50, now(), now() + interval '1 hour' FROM users WHERE email_normalized = ${literal(account.email)}
       ON CONFLICT (user_id, device) DO UPDATE SET failed_attempts = 50, last_failed_at = now(), locked_until = now() + interval '1 hour'`);
  // in the same browser, someone signs up with Google (the provider sends the browser back from its
  // own site) and signs out again
  await page.waitForSelector('html[data-hydrated]');
  await continueWith(page, 'Google', uniqueEmail());
  await expectSecurityPage(page);
  await signOut(page);
  // the first account's password still signs in here: the browser is still trusted by it
  await submitSignInForm(page, account.email, account.password);
  await expectSecurityPage(page);
  await expect(accountNav(page)).toContainText(account.email);
});

test('a Google-only account confirms it is the owner by signing in at Google again', async ({ page }) => {
  const email = uniqueEmail();
  await gotoHydrated(page, '/sign-up');
  await continueWith(page, 'Google', email);
  await expectSecurityPage(page);
  // the sign-in is older than the re-verification window
  await endVerificationWindow(page, email);
  await gotoHydrated(page, SECURITY_PATH);
  await expect(page.getByText(/Verified for \d+ more minutes/)).toHaveCount(0);
  const section = region(page, 'Password');
  await section.getByRole('button', { name: 'Set password' }).click();
  await section.getByLabel('New password', { exact: true }).fill(strongPassword());
  await section.getByRole('button', { name: 'Set password' }).click();
  const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
  // it says what happens: the change is not carried on across the trip to Google
  await expect(dialog).toHaveAccessibleDescription(
    "This is a sensitive change. Confirm your identity with your connected account: you'll come back to this page, then make the change again. You won't be asked again for 10 minutes.",
  );
  await expect(dialog).not.toContainText("we'll carry on");
  // another Google account than the one connected: refused, and listed as a wrong password is
  await dialog.getByRole('button', { name: 'Continue with Google' }).click();
  await consent(page, 'Google', uniqueEmail());
  await expectSecurityPage(page);
  // said at the top of the page, where "You confirmed it's you" would be, with the keyboard on it;
  // not in Connected accounts, which the person was not using
  const refused = page.getByRole('alert').filter({ hasText: "That Google account isn't connected to your account." });
  await expect(refused).toHaveText("That Google account isn't connected to your account. Make your change again to confirm it's you once more.");
  await expect(refused).toBeFocused();
  await expect(region(page, 'Connected accounts')).not.toContainText("isn't connected to your account");
  await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '' && url.hash === '');
  await expect(region(page, 'Recent security activity')).toContainText("Failed to confirm it's you with Google: an account not connected to yours");
  await section.getByRole('button', { name: 'Set password' }).click();
  await section.getByLabel('New password', { exact: true }).fill(strongPassword());
  await section.getByRole('button', { name: 'Set password' }).click();
  // (asked again: the last try's sentence goes)
  await expect(refused).toHaveCount(0);
  await dialog.getByRole('button', { name: 'Continue with Google' }).click();
  // the local stand-in asks who signs in (a fresh sign-in), and says when in its ID token
  await consent(page, 'Google', email);
  await expectSecurityPage(page);
  // the page says it worked and what to do next, and the keyboard starts there (it said nothing,
  // with the keyboard at the top); the address no longer carries it
  const said = page.getByRole('status').filter({ hasText: "You confirmed it's you with Google. Make your change again." });
  await expect(said).toContainText(/Verified for \d+ more minutes/);
  // (the sentence alone: the End now button beside it is not read as part of it)
  await expect(said).toHaveText(/^You confirmed it's you with Google\. Make your change again\. Verified for \d+ more minutes?\. Sensitive changes won't ask you to confirm it's you again until then\.$/);
  await expect(said).toBeFocused();
  await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '');
  await expect(region(page, 'Recent security activity')).toContainText("Confirmed it's you with Google");
});

test('a provider whose email an account already uses is refused, and told what to do', async ({ page, request }) => {
  const account = newAccount();
  await signUpViaApi(request, account);
  await gotoHydrated(page, '/sign-in');
  await continueWith(page, 'Google', account.email);
  await expectPathname(page, '/sign-in');
  await expect(page.getByRole('alert')).toHaveText(
    'An account already uses the email address of this Google account. Sign in to that account the way you set it up (its password, a passkey, or another provider), then connect Google from Security & Access.',
  );
  const session = await page.request.get('/api/session');
  expect(await session.json()).toBeNull();
  expect(sql(`SELECT count(*) FROM connected_accounts c JOIN users u ON u.id = c.user_id WHERE u.email_normalized = ${literal(account.email)}`)).toBe('0');
});

test('cancelling at the provider comes back to sign-in with a calm sentence', async ({ page }) => {
  await gotoHydrated(page, '/sign-in');
  await page.getByRole('button', { name: 'Continue with GitHub' }).click();
  await expect(page.getByRole('heading', { name: 'Local development provider' })).toBeVisible();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expectPathname(page, '/sign-in');
  // calm: a status, not an alert
  await expect(page.getByRole('status').filter({ hasText: 'You cancelled at GitHub. Nothing was changed.' })).toBeVisible();
  // the keyboard starts there, so a screen reader reads it (it came with the page: nothing announced it)
  await expect(page.getByRole('status').filter({ hasText: 'You cancelled at GitHub. Nothing was changed.' })).toBeFocused();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Continue with GitHub' })).toBeEnabled();
  // said once: the address no longer carries it, so a reload does not say it again
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.search === '');
  await page.reload();
  await page.waitForSelector('html[data-hydrated]');
  await expect(page.getByText('You cancelled at GitHub.')).toHaveCount(0);
});

test('cancelling at the provider from the sign-up page comes back to sign-up, where the person was', async ({ page }) => {
  await gotoHydrated(page, '/sign-up');
  await page.getByRole('button', { name: 'Continue with GitHub' }).click();
  await expect(page.getByRole('heading', { name: 'Local development provider' })).toBeVisible();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expectPathname(page, '/sign-up');
  await expect(page.getByRole('heading', { name: 'Create your Gatehouse account' })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'You cancelled at GitHub. Nothing was changed.' })).toBeFocused();
  await expect(page).toHaveURL((url) => url.pathname === '/sign-up' && url.search === '');
});

test('a Google sign-in on an account with an authenticator app still asks for the code', async ({ page }) => {
  test.setTimeout(90_000);
  const email = uniqueEmail();
  await gotoHydrated(page, '/sign-in');
  await continueWith(page, 'Google', email);
  await expectSecurityPage(page);
  const totp = await turnOnAuthenticator(page);

  // from a sign-in page asked to return to another address: back there, through the code step
  await signOut(page);
  await gotoHydrated(page, `/sign-in?return_to=${encodeURIComponent(`${SECURITY_PATH}?from=code-step`)}`);
  await continueWith(page, 'Google', email);
  await expectPathname(page, '/sign-in');
  await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
  // the next 30-second step: each code works once
  await page.waitForTimeout(30_000 - (Date.now() % 30_000) + 500);
  await page.waitForSelector('html[data-hydrated]');
  await page.getByLabel('6-digit code').fill(totp.generate());
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '?from=code-step');
  await expect(region(page, 'Sessions').getByRole('listitem').first()).toContainText('Google + authenticator app');

  // Back to sign in from a provider's code step: the form, the keyboard on the (empty) email, and
  // an address that a reload does not turn back into the code step
  await signOut(page);
  await page.waitForSelector('html[data-hydrated]');
  await continueWith(page, 'Google', email);
  await expect(page.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
  expect(new URL(page.url()).searchParams.get('second_step')).toBe('1');
  await page.waitForSelector('html[data-hydrated]');
  await page.getByRole('button', { name: 'Back to sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to Gatehouse' })).toBeVisible();
  await expect(page.getByLabel('Email', { exact: true })).toBeFocused();
  expect(new URL(page.url()).searchParams.get('second_step')).toBeNull();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Sign in to Gatehouse' })).toBeVisible();
});

test.describe('on a phone', () => {
  test.use({ viewport: { width: 360, height: 740 } });

  test('coming back from connecting Google lands on Connected accounts, its sentence in view', async ({ page }) => {
    const account = newAccount();
    await signUpViaApi(page, account);
    await gotoHydrated(page, SECURITY_PATH);
    const connected = region(page, 'Connected accounts');
    // far below the first screen on a phone
    await expect(connected).not.toBeInViewport();
    await connected.getByRole('button', { name: 'Connect Google' }).click();
    await consent(page, 'Google', uniqueEmail());
    await expectSecurityPage(page);
    expect(new URL(page.url()).hash).toBe('#connected-accounts');
    const said = connected.getByRole('status');
    await expect(said).toHaveText('Google is connected. You can now sign in with it.');
    await expect(said).toBeInViewport();
    await expect(said).toBeFocused();
  });
});

test('connecting Google in two tabs: both tabs finish, and Google is connected once', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const other = await page.context().newPage();
  await gotoHydrated(other, SECURITY_PATH);
  const googleEmail = uniqueEmail();

  // the first tab goes to Google and waits there; the second starts too and finishes
  await region(page, 'Connected accounts').getByRole('button', { name: 'Connect Google' }).click();
  await expect(page).toHaveURL((url) => url.origin === IDP_URL);
  await region(other, 'Connected accounts').getByRole('button', { name: 'Connect Google' }).click();
  await consent(other, 'Google', googleEmail);
  await expectSecurityPage(other);
  await expect(region(other, 'Connected accounts').getByRole('status')).toHaveText('Google is connected. You can now sign in with it.');

  await consent(page, 'Google', googleEmail);
  await expectSecurityPage(page);
  // (the first callback cleared the browser's flow cookie, so this one said "That return from
  // Google can't be used")
  const connected = region(page, 'Connected accounts');
  await expect(connected.getByRole('status')).toHaveText('Google is connected. You can now sign in with it.');
  await expect(connected.getByRole('alert')).toHaveCount(0);
  await expect(connected.getByRole('listitem').filter({ hasText: 'Google' })).toHaveCount(1);
  await expect(connected.getByRole('listitem').filter({ hasText: 'Google' })).toContainText(googleEmail);
  // one connection, one event
  expect(sql(`SELECT count(*) FROM security_events e JOIN users u ON u.id = e.user_id
              WHERE u.email_normalized = ${literal(account.email.toLowerCase())} AND e.kind = 'provider_connected'`)).toBe('1');
});

test('a disconnect refused as the only way left to sign in shows the page as it is now (the other way went in another tab)', async ({ page }) => {
  const email = uniqueEmail();
  await gotoHydrated(page, '/sign-up');
  await continueWith(page, 'Google', email);
  await expectSecurityPage(page);
  // GitHub too (just signed up: no re-verification asked)
  const connected = region(page, 'Connected accounts');
  await connected.getByRole('button', { name: 'Connect GitHub' }).click();
  await consent(page, 'GitHub', uniqueEmail());
  await expectSecurityPage(page);
  await expect(connected.getByRole('status')).toHaveText('GitHub is connected. You can now sign in with it.');
  const disconnectGoogle = connected.getByRole('button', { name: 'Disconnect Google' });
  await expect(disconnectGoogle).toBeEnabled();

  // another tab disconnects GitHub; this one still shows it
  const gone = await page.request.post('/api/security/connected-accounts/disconnect', { form: { provider: 'GitHub' }, headers: SAME_ORIGIN_HEADERS });
  expect(gone.status()).toBe(200);
  await expect(connected.getByRole('listitem').filter({ hasText: 'GitHub' })).toContainText('Connected');

  await disconnectGoogle.click();
  await connected.getByRole('group', { name: 'Disconnect Google?' }).getByRole('button', { name: 'Disconnect Google' }).click();
  await expect(connected.getByRole('alert')).toHaveText('Google is your only way to sign in. Set a password or add a passkey first.');
  // and what it says is now true on the page: GitHub is gone, Google can no longer be disconnected
  await expect(connected.getByRole('button', { name: 'Connect GitHub' })).toBeVisible();
  await expect(connected.getByRole('listitem').filter({ hasText: 'GitHub' })).toContainText('Not connected');
  // the confirmation closed (nothing in it can work now); the sentence stays, and the keyboard is on it
  await expect(connected.getByRole('group', { name: 'Disconnect Google?' })).toHaveCount(0);
  await expect(connected.getByRole('alert')).toBeFocused();
  await expect(disconnectGoogle).toBeDisabled();
  await expect(disconnectGoogle).toHaveAccessibleDescription('This is your only way to sign in. Set a password or add a passkey first.');
  // a password set in its own section makes the sentence untrue: it goes, and Disconnect is back
  const section = region(page, 'Password');
  await section.getByRole('button', { name: 'Set password' }).click();
  await section.getByLabel('New password', { exact: true }).fill(strongPassword());
  await section.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password set' })).toBeVisible();
  await expect(disconnectGoogle).toBeEnabled();
  await expect(connected.getByRole('alert')).toHaveCount(0);
});

test("what the provider's return said goes once the person does something else in the section", async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const connected = region(page, 'Connected accounts');
  await connected.getByRole('button', { name: 'Connect Google' }).click();
  await consent(page, 'Google', uniqueEmail());
  await expectSecurityPage(page);
  await connected.getByRole('button', { name: 'Connect GitHub' }).click();
  await expect(page.getByRole('heading', { name: 'Local development provider' })).toBeVisible();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expectSecurityPage(page);
  await expect(connected.getByRole('status')).toHaveText('You cancelled at GitHub. Nothing was changed.');
  // said once: the address keeps only the section's anchor, and a reload does not say it again
  await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '' && url.hash === '#connected-accounts');
  await page.reload();
  await page.waitForSelector('html[data-hydrated]');
  await expect(connected.getByText('You cancelled at GitHub.')).toHaveCount(0);
  await connected.getByRole('button', { name: 'Disconnect Google' }).click();
  await connected.getByRole('group', { name: 'Disconnect Google?' }).getByRole('button', { name: 'Disconnect Google' }).click();
  // one sentence, about what just happened
  await expect(connected.getByRole('status')).toHaveText('Google is disconnected. It can no longer sign in to your account.');
});
