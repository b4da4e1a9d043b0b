/**
 * Email end to end, against the local mail catcher and the messages the server really sends:
 * sign-up through the emailed link (and what an address that already has an account gets
 * instead), "Forgot password?" through the reset link (every session ended, the authenticator
 * still asked for), and the link pages: each link works once, opening one changes nothing, and a
 * mangled one says so.
 */
import type { Page } from '@playwright/test';
import {
  ACCOUNT_EXISTS_MAIL,
  BAD_CREDENTIALS,
  BASE_URL,
  CHECK_INBOX,
  HTTP_4XX_LOG,
  SAME_ORIGIN_HEADERS,
  SECURITY_PATH,
  SIGN_UP_MAIL,
  SITE_ORIGIN,
  accountNav,
  alertOf,
  canSignIn,
  checkA11y,
  expect,
  expectPathname,
  expectSecurityPage,
  gotoHydrated,
  linkTo,
  linksIn,
  literal,
  mailsTo,
  newAccount,
  region,
  requestSignUpViaUi,
  signInViaApi,
  signUpViaApi,
  sql,
  strongPassword,
  submitSignInForm,
  test,
  turnOnAuthenticator,
  trackPageErrors,
  uniqueEmail,
  waitForHydration,
  waitForMail,
} from './fixtures';

// A used or mangled link is answered 400/410, and a wrong password or a sign-in waiting for its
// second step 401/403: Chromium logs those as console errors. Page errors and 5xx still fail.
test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });

const RESET_MAIL = 'Reset your Gatehouse password';
const RESET_DONE_MAIL = 'Your Gatehouse password was reset';
const RESET_ANSWER = 'If an account uses this address, we sent a link.';
const RESET_NOTICE = 'Your password was reset and every session signed out. Sign in with your new password.';

function main(page: Page) {
  return page.getByRole('main');
}

/** The on-page answer with the address it names replaced, to compare two answers. */
async function answerText(page: Page, email: string): Promise<string> {
  return (await main(page).innerText()).replaceAll(email, '<email>');
}

function countOf(statement: string): number {
  return Number(sql(statement));
}

function usersWithEmail(email: string): number {
  return countOf(`SELECT count(*) FROM users WHERE email_normalized = ${literal(email.trim().toLowerCase())}`);
}

/** The same link with its token's first character changed: well-formed, but no link's. */
function mangled(link: string): string {
  const url = new URL(link);
  const token = url.searchParams.get('token')!;
  url.searchParams.set('token', (token[0] === 'A' ? 'B' : 'A') + token.slice(1));
  return url.toString();
}

/** Posts a sign-up for `email` (no browser) and answers the link of the email it sends. */
async function signUpLink(page: Page, email: string): Promise<string> {
  const before = (await mailsTo(email)).length;
  const response = await page.request.post('/api/auth/sign-up', { form: { email, display_name: '' }, headers: SAME_ORIGIN_HEADERS });
  expect(response.status()).toBe(200);
  return linkTo(await waitForMail(email, SIGN_UP_MAIL, { after: before }), '/sign-up/finish');
}

/** Posts "Forgot password?" for `email` (no browser) and answers the link of the email it sends. */
async function resetLink(page: Page, email: string): Promise<string> {
  const before = (await mailsTo(email)).length;
  const response = await page.request.post('/api/auth/forgot-password', { form: { email }, headers: SAME_ORIGIN_HEADERS });
  expect(response.status()).toBe(200);
  return linkTo(await waitForMail(email, RESET_MAIL, { after: before }), '/reset-password');
}

/** Someone who knows `email` has locked the path every browser that never signed in to it shares
 * (fast-forwarded: 50 failures, locked for an hour). */
function lockSharedPath(email: string): void {
  sql(
    `INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at, locked_until)
     SELECT id, '', 50, now(), now() + interval '1 hour' FROM users WHERE email_normalized = ${literal(email.toLowerCase())}`,
  );
}

/** At the code step: the code that turned the app on is used up, so waits for the next one, enters
 * it and continues. */
async function enterNextCode(page: Page, totp: { generate(): string }): Promise<void> {
  await page.waitForTimeout(30_000 - (Date.now() % 30_000) + 500);
  await page.getByLabel('6-digit code').fill(totp.generate());
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Finishes a sign-up from its link with a form POST (the page's context ends up signed in). */
async function finishSignUp(page: Page, link: string, password: string): Promise<void> {
  const token = new URL(link).searchParams.get('token')!;
  const response = await page.request.post('/api/auth/sign-up/finish', { form: { token, password }, headers: SAME_ORIGIN_HEADERS });
  expect(response.ok(), await response.text()).toBe(true);
}

/** Expects the page for a link that cannot be used, and its two ways forward. */
async function expectLinkProblem(page: Page, title: string, again: { name: string; href: string }, signedIn = false): Promise<void> {
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(title);
  // the title says it too, not the page's "Choose a new password": a screen reader reads it first
  await expect(page).toHaveTitle(`${title} · Gatehouse`);
  await expect(main(page).getByRole('link', { name: again.name, exact: true })).toHaveAttribute('href', again.href);
  // (a browser signed in is not offered Sign in, which would only send it on)
  await expect(main(page).getByRole('link', { name: 'Sign in', exact: true })).toHaveCount(signedIn ? 0 : 1);
  if (!signedIn) {
    await expect(main(page).getByRole('link', { name: 'Sign in', exact: true })).toHaveAttribute('href', '/sign-in');
  }
}

const USED_SIGNED_IN = "Each link works only once. You're signed in: your account's settings are on Security & Access.";
const TO_SECURITY = { name: 'Go to Security & Access', href: SECURITY_PATH };
const LEAKED = 'This password is in lists of leaked passwords; choose another.';

test('signing up a new address: the emailed link finishes it, signs in, and works once', async ({ page, browser }) => {
  // many steps (about 20 s on a loaded two-core machine, near the default 30 s)
  test.setTimeout(60_000);
  const account = newAccount('Ada Lovelace');
  await requestSignUpViaUi(page, account);
  await expect(page.getByRole('status').filter({ hasText: CHECK_INBOX })).toContainText(account.email);
  await checkA11y(page);

  const mail = await waitForMail(account.email, SIGN_UP_MAIL);
  expect(mail.to).toEqual([account.email]);
  const link = linkTo(mail, '/sign-up/finish');
  expect(new URL(link).origin).toBe(SITE_ORIGIN);
  expect(new URL(link).searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{43}$/);

  await page.goto(link);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Finish creating your account');
  // (opening the link created nothing yet, and the page does not say otherwise)
  await expect(page.getByRole('main')).toContainText("One step left: choose how you'll sign in, with a password or a passkey. Your account is created when you do.");
  await expect(main(page).getByText(account.email, { exact: true })).toBeVisible();
  const password = page.getByLabel('Password', { exact: true });
  await password.fill('short');
  await expect(page.locator('.strength-text')).toHaveText('Too short: 10 more characters.');
  await password.fill(account.password);
  await expect(page.locator('.strength-text')).toHaveText(/^(Good|Strong)\./);
  // the name typed when the link was asked for, to keep or change (whoever asked typed it)
  const name = page.getByLabel('Display name (optional)');
  await expect(name).toHaveValue('Ada Lovelace');
  await name.fill('Ada King');
  await checkA11y(page);
  // the same link open in a second tab, its form filled in
  const stale = await page.context().newPage();
  await stale.goto(link);
  await waitForHydration(stale);
  await stale.getByLabel('Password', { exact: true }).fill(account.password);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expectSecurityPage(page);
  // the second tab's Create account: the link's page says it was used, with its way on, where a
  // sentence above a form that could no longer work had offered no link; the keyboard on its
  // heading. This browser is signed in now (the first tab): its way on is Security & Access.
  await stale.getByRole('button', { name: 'Create account', exact: true }).click();
  await expectLinkProblem(stale, 'This link was already used', TO_SECURITY, true);
  await expect(main(stale)).toContainText(USED_SIGNED_IN);
  await expect(stale.getByRole('heading', { level: 1 })).toBeFocused();
  await stale.close();
  await expect(accountNav(page)).toContainText('Ada King');
  await expect(region(page, 'Sessions').getByRole('listitem')).toHaveCount(1);
  expect(usersWithEmail(account.email)).toBe(1);
  expect(await canSignIn(account.email, account.password)).toBe(true);

  // Back to the link's page, signed in: the same
  await page.goBack();
  await waitForHydration(page);
  await expectLinkProblem(page, 'This link was already used', TO_SECURITY, true);
  await page.goto(link);
  await waitForHydration(page);
  await expectLinkProblem(page, 'This link was already used', TO_SECURITY, true);
  // in a browser signed out: start again, or sign in
  const elsewhere = await browser.newContext({ baseURL: BASE_URL });
  const signedOut = await elsewhere.newPage();
  await signedOut.goto(link);
  await waitForHydration(signedOut);
  await expectLinkProblem(signedOut, 'This link was already used', { name: 'Start again', href: '/sign-up' });
  await expect(main(signedOut)).toContainText('Each link works only once. Sign in, or ask for a new link.');
  await elsewhere.close();
  expect(usersWithEmail(account.email)).toBe(1);
});

test("a second password refused as the first was is said again at its field, on the reset link's and the sign-up link's pages", async ({ page, request }) => {
  const refusedTwice = async (field: ReturnType<Page['getByLabel']>, submit: () => Promise<void>) => {
    const meter = page.locator('.strength-text');
    for (const leaked of ['manchesterunited', '!cuCIJ_LN942q0EW']) {
      await field.fill(leaked);
      await expect(meter, leaked).toHaveText(/^(Good|Strong)\./);
      await submit();
      await expect(field, leaked).toHaveAccessibleDescription(new RegExp(`${LEAKED.replace(/[.;]/g, '\\$&')}$`));
      await expect(field, leaked).toHaveAttribute('aria-invalid', 'true');
      await expect(field, leaked).toBeFocused();
      await expect(meter, leaked).toHaveText('Not accepted: choose another.');
    }
  };
  // the reset link's page (Enter, then the button)
  const account = newAccount();
  await signUpViaApi(request, account);
  await gotoHydrated(page, '/forgot-password');
  await page.getByLabel('Email', { exact: true }).fill(account.email);
  await page.getByRole('button', { name: 'Send link', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: RESET_ANSWER })).toBeVisible();
  await page.goto(linkTo(await waitForMail(account.email, RESET_MAIL), '/reset-password'));
  await waitForHydration(page);
  const newPassword = page.getByLabel('New password', { exact: true });
  let enter = true;
  await refusedTwice(newPassword, async () => {
    if (enter) await newPassword.press('Enter');
    else await page.getByRole('button', { name: 'Save new password', exact: true }).click();
    enter = !enter;
  });
  expect(await canSignIn(account.email, account.password)).toBe(true);

  // the sign-up link's page
  const other = newAccount();
  await requestSignUpViaUi(page, other);
  await page.goto(linkTo(await waitForMail(other.email, SIGN_UP_MAIL), '/sign-up/finish'));
  await waitForHydration(page);
  const password = page.getByLabel('Password', { exact: true });
  await refusedTwice(password, () => password.press('Enter'));
  // a name too long for the passkey's way is said at the name's field too, as on the password's
  const name = page.getByLabel('Display name (optional)');
  await name.fill('n'.repeat(101));
  await page.getByRole('button', { name: 'Use a passkey instead', exact: true }).click();
  await expect(name).toHaveAccessibleDescription(/Use at most 100 characters for your name\.$/);
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await expect(name).toBeFocused();
  await expect(main(page).getByRole('alert')).toHaveCount(0);
  // and again on the password's way: said once, at the field
  await password.fill(strongPassword());
  await password.press('Enter');
  await expect(name).toHaveAccessibleDescription(/Use at most 100 characters for your name\.$/);
  await expect(name).toHaveAttribute('aria-invalid', 'true');
  await expect(main(page).getByText('Use at most 100 characters for your name.')).toHaveCount(1);
  // the name shortened and the form sent again: while it is checked, the earlier refusal does not
  // come back for the new name, nor take the keyboard from the password
  await name.fill('Ada');
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/api/auth/sign-up/finish', async (route) => {
    await held;
    await route.continue();
  });
  await password.fill('manchesterunited');
  await password.press('Enter');
  await expect(main(page).locator('form[aria-busy="true"]')).toHaveCount(1);
  await expect(name).not.toHaveAttribute('aria-invalid', 'true');
  await expect(password).toBeFocused();
  release();
  await expect(password).toHaveAccessibleDescription(new RegExp(`${LEAKED.replace(/[.;]/g, '\\$&')}$`));
  await expect(name).not.toHaveAttribute('aria-invalid', 'true');
  await page.unroute('**/api/auth/sign-up/finish');
  expect(usersWithEmail(other.email)).toBe(0);
});

test('signing up with an address that has an account: the same answer, the owner is told, nothing changes', async ({ page, request }) => {
  const owner = newAccount();
  await signUpViaApi(request, owner);
  const stranger = uniqueEmail();

  // the same answer on the page…
  await requestSignUpViaUi(page, { email: stranger });
  const forNewAddress = await answerText(page, stranger);
  await requestSignUpViaUi(page, { email: owner.email });
  await expect(page.getByRole('status').filter({ hasText: CHECK_INBOX })).toContainText(owner.email);
  await expect(alertOf(page)).toHaveCount(0);
  expect(await answerText(page, owner.email)).toBe(forNewAddress);
  // …and over HTTP
  const answers = [];
  for (const email of [uniqueEmail(), owner.email]) {
    const response = await request.post('/api/auth/sign-up', { form: { email, display_name: '' }, headers: SAME_ORIGIN_HEADERS, maxRedirects: 0 });
    answers.push({ status: response.status(), body: await response.text() });
  }
  expect(answers[0].status).toBe(200);
  expect(answers[1]).toEqual(answers[0]);

  // the new address gets the link; the owner is told someone tried, with ways back in
  await waitForMail(stranger, SIGN_UP_MAIL);
  const told = await waitForMail(owner.email, ACCOUNT_EXISTS_MAIL);
  expect(told.to).toEqual([owner.email]);
  expect(linksIn(told)).toEqual([`${SITE_ORIGIN}/sign-in`, `${SITE_ORIGIN}/forgot-password`]);
  expect(told.text).toContain('nothing was created and nothing changed');
  await waitForMail(owner.email, ACCOUNT_EXISTS_MAIL, { after: 2 }); // the HTTP one: the first sign-up's link, then the page's
  expect((await mailsTo(owner.email)).map((mail) => mail.subject).sort()).toEqual(
    [ACCOUNT_EXISTS_MAIL, ACCOUNT_EXISTS_MAIL, SIGN_UP_MAIL].sort(),
  );

  // no second account, and the old password still signs in
  expect(usersWithEmail(owner.email)).toBe(1);
  expect(await canSignIn(owner.email, owner.password)).toBe(true);
});

test('"Forgot password?" end to end: the emailed link sets a new password and signs out every session', async ({ page, browser, request }) => {
  test.setTimeout(60_000);
  const account = newAccount('Ava Owner');
  await signUpViaApi(request, account);

  // another browser, signed in
  const otherContext = await browser.newContext({ baseURL: BASE_URL });
  try {
    const other = await otherContext.newPage();
    const otherErrors = trackPageErrors(other);
    await signInViaApi(other, account.email, account.password);
    await gotoHydrated(other, SECURITY_PATH);
    await expectSecurityPage(other);

    // ask for a link from the sign-in page
    await gotoHydrated(page, '/sign-in');
    await page.getByRole('link', { name: 'Forgot password?', exact: true }).click();
    await expectPathname(page, '/forgot-password');
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Reset your password');
    await checkA11y(page);
    await page.getByLabel('Email', { exact: true }).fill(account.email);
    await page.getByRole('button', { name: 'Send link', exact: true }).click();
    await expect(page.getByRole('status').filter({ hasText: RESET_ANSWER })).toContainText(account.email);
    await checkA11y(page);

    const mail = await waitForMail(account.email, RESET_MAIL);
    const link = linkTo(mail, '/reset-password');
    expect(new URL(link).origin).toBe(SITE_ORIGIN);

    // choose a new password
    await page.goto(link);
    await waitForHydration(page);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Choose a new password');
    await expect(main(page).getByText(account.email, { exact: true })).toBeVisible();
    // (its password still works: remembering it is an answer too)
    await expect(main(page).getByRole('link', { name: 'Sign in' })).toBeVisible();
    // a password built from the account's name: the meter says what the server would say (it
    // said "Good", then the server refused it)
    await page.getByLabel('New password', { exact: true }).fill('Ava Owner 2024!!');
    await expect(page.locator('.strength-text')).toHaveText("Built from your email, your name or the site's name.");
    const newPassword = strongPassword();
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await expect(page.locator('.strength-text')).toHaveText(/^(Good|Strong)\./);
    await checkA11y(page);
    // the same link open in a second tab, its form filled in
    const stale = await page.context().newPage();
    await stale.goto(link);
    await waitForHydration(stale);
    await stale.getByLabel('New password', { exact: true }).fill(strongPassword());
    const before = (await mailsTo(account.email)).length;
    await page.getByRole('button', { name: 'Save new password', exact: true }).click();
    await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('reset') === '1');
    await waitForHydration(page);
    await expect(page.getByRole('status').filter({ hasText: RESET_NOTICE })).toHaveText(RESET_NOTICE);
    // it came with the page, where no live region announces it: the keyboard starts on it, so a
    // screen reader reads it
    await expect(page.getByRole('status').filter({ hasText: RESET_NOTICE })).toBeFocused();

    // the old password no longer signs in; the new one does
    await submitSignInForm(page, account.email, account.password);
    await expect(alertOf(page)).toHaveText(BAD_CREDENTIALS);
    await submitSignInForm(page, account.email, newPassword);
    await expectSecurityPage(page);
    expect(await canSignIn(account.email, account.password)).toBe(false);
    // the second tab's Save: the link's page says it was used; this browser is signed in again
    // (the first tab), so its way on is Security & Access, not Sign in
    await stale.getByRole('button', { name: 'Save new password', exact: true }).click();
    await expectLinkProblem(stale, 'This link was already used', TO_SECURITY, true);
    await expect(stale.getByRole('heading', { level: 1 })).toBeFocused();
    await stale.close();

    // the other browser was signed out
    await other.goto(SECURITY_PATH);
    await expectPathname(other, '/sign-in');
    expect(otherErrors, 'page errors / console errors in the other browser').toEqual([]);

    // the owner is told
    const done = await waitForMail(account.email, RESET_DONE_MAIL, { after: before });
    expect(done.to).toEqual([account.email]);
    // where from, as every other notice says (an owner who did not do this learns where it was)
    expect(done.text).toMatch(/\nDevice: Chrome \d+ on Linux\nApproximate location: .+ \(IP address [\d.]+\)\n/);

    // the link worked once: signed in, the way on is Security & Access; signed out (the other
    // browser, whose session the reset ended), a new link or Sign in
    await page.goto(link);
    await waitForHydration(page);
    await expectLinkProblem(page, 'This link was already used', TO_SECURITY, true);
    await other.goto(link);
    await waitForHydration(other);
    await expectLinkProblem(other, 'This link was already used', { name: 'Get a new link', href: '/forgot-password' });
  } finally {
    await otherContext.close();
  }
});

test("strangers' guesses cannot keep the owner out of a new browser: the reset link trusts the browser that opened it", async ({ page, request }) => {
  const account = newAccount();
  // signed up on another device; `page` is a browser that never signed in to the account
  await signUpViaApi(request, account);
  // someone who knows the address has locked the path every such browser shares
  lockSharedPath(account.email);
  await gotoHydrated(page, '/sign-in');
  await submitSignInForm(page, account.email, account.password);
  await expect(alertOf(page)).toHaveText(BAD_CREDENTIALS);

  // Forgot password, in this browser: the password it chooses signs in here at once
  await page.goto(await resetLink(page, account.email));
  await waitForHydration(page);
  const newPassword = strongPassword();
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByRole('button', { name: 'Save new password', exact: true }).click();
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('reset') === '1');
  await waitForHydration(page);
  await submitSignInForm(page, account.email, newPassword);
  await expectSecurityPage(page);
  // (only this browser: the shared path stays locked)
  expect(await canSignIn(account.email, newPassword)).toBe(false);
});

test('a reset does not skip the authenticator app: the next sign-in still asks for a code', async ({ page }) => {
  test.setTimeout(90_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  const totp = await turnOnAuthenticator(page);

  const link = await resetLink(page, account.email);
  await page.goto(link);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Choose a new password');
  // remembered it after all: the way back to sign-in
  await expect(main(page).getByRole('link', { name: 'Sign in', exact: true })).toHaveAttribute('href', '/sign-in');
  // with a second factor the password rules ask for fewer characters, as on the Security page
  await expect(main(page)).toContainText('At least 8 characters.');
  const newPassword = strongPassword();
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByRole('button', { name: 'Save new password', exact: true }).click();
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('reset') === '1');
  await waitForHydration(page);
  // the reset ended this browser's session too
  expect((await page.request.get(SECURITY_PATH, { maxRedirects: 0 })).status()).toBe(303);

  await submitSignInForm(page, account.email, newPassword);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Two-step verification');
  await enterNextCode(page, totp);
  await expectSecurityPage(page);
  await expect(region(page, 'Sessions').getByRole('listitem').first()).toContainText('Password + authenticator app');
  await expect(region(page, 'Two-step verification')).toContainText('Authenticator app: on');
});

test('with an authenticator app too, strangers who lock the shared path cannot keep the owner out of a new computer: Forgot password there, then her code', async ({ page, browser }) => {
  test.setTimeout(90_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  const totp = await turnOnAuthenticator(page);
  // someone who knows the address has locked the path every browser that never signed in shares
  lockSharedPath(account.email);
  const newPassword = strongPassword();
  const laptop = await browser.newContext({ baseURL: BASE_URL });
  try {
    const other = await laptop.newPage();
    const errors = trackPageErrors(other, [HTTP_4XX_LOG]);
    await gotoHydrated(other, '/sign-in');
    await submitSignInForm(other, account.email, account.password);
    await expect(alertOf(other)).toHaveText(BAD_CREDENTIALS);

    // Forgot password on the new computer: the password it chooses leads there to the code step
    await other.goto(await resetLink(page, account.email));
    await waitForHydration(other);
    await other.getByLabel('New password', { exact: true }).fill(newPassword);
    await other.getByRole('button', { name: 'Save new password', exact: true }).click();
    await expect(other).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('reset') === '1');
    await waitForHydration(other);
    await submitSignInForm(other, account.email, newPassword);
    await expect(other.getByRole('heading', { level: 1 })).toHaveText('Two-step verification');
    await enterNextCode(other, totp);
    await expectSecurityPage(other);
    expect(errors).toEqual([]);
  } finally {
    await laptop.close();
  }
  // only that computer: every other new browser still meets the locked path (answered as a wrong
  // password, with no code step begun)
  const elsewhere = await browser.newContext({ baseURL: BASE_URL });
  try {
    const r = await elsewhere.request.post('/api/auth/sign-in', { form: { email: account.email, password: newPassword }, headers: SAME_ORIGIN_HEADERS });
    expect(r.status()).toBe(401);
    expect((await elsewhere.cookies()).map((c) => c.name)).not.toContain('__Host-gatehouse-pending');
  } finally {
    await elsewhere.close();
  }
});

test('"try another address" puts the keyboard back in the address field, on sign-up and on Forgot password', async ({ page }) => {
  const account = newAccount();
  await requestSignUpViaUi(page, account);
  await page.getByRole('button', { name: 'try another address' }).click();
  // (the button pressed went with "Check your inbox": the keyboard was left on the page's body)
  await expect(page.getByLabel('Email', { exact: true })).toBeFocused();

  await gotoHydrated(page, '/forgot-password');
  await page.getByLabel('Email', { exact: true }).fill(uniqueEmail());
  await page.getByRole('button', { name: 'Send link', exact: true }).click();
  await expect(main(page)).toContainText(RESET_ANSWER);
  await page.getByRole('button', { name: 'try another address' }).click();
  await expect(page.getByLabel('Email', { exact: true })).toBeFocused();
});

test('a reset link opened in a browser signed in to another account: that one is signed out there, and the page says the reset worked', async ({ page, request }) => {
  const owner = newAccount();
  await signUpViaApi(request, owner);
  const other = newAccount();
  await signUpViaApi(page, other);
  const link = await resetLink(page, owner.email);
  await page.goto(link);
  await waitForHydration(page);
  // the page says so before the button does it
  await expect(main(page).locator('.notice')).toHaveText(
    `You're signed in as ${other.email.toLowerCase()} in this browser. Saving the password signs that one out in this browser.`,
  );
  await page.getByLabel('New password', { exact: true }).fill(strongPassword());
  await page.getByRole('button', { name: 'Save new password', exact: true }).click();
  // (it went on to the other account's Security & Access page, with no word of the reset)
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('reset') === '1');
  await expect(page.getByRole('status').filter({ hasText: RESET_NOTICE })).toHaveText(RESET_NOTICE);
  expect(await (await page.request.get('/api/session')).json()).toBeNull();
  expect(await canSignIn(other.email, other.password)).toBe(true);
});

test('a sign-up link opened in a browser signed in to another account says so before creating the account', async ({ page }) => {
  const other = newAccount();
  await signUpViaApi(page, other);
  const email = newAccount().email;
  const link = await signUpLink(page, email);
  await page.goto(link);
  await waitForHydration(page);
  await expect(main(page).locator('.notice')).toHaveText(
    `You're signed in as ${other.email.toLowerCase()} in this browser. Creating this account signs that one out in this browser.`,
  );
  await page.getByLabel('Password', { exact: true }).fill(strongPassword());
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expectSecurityPage(page);
  expect((await (await page.request.get('/api/session')).json())?.email).toBe(email.toLowerCase());
  // a browser signed in to no account is told nothing of the kind
  const fresh = await signUpLink(page, newAccount().email);
  await page.context().clearCookies();
  await page.goto(fresh);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Finish creating your account');
  await expect(main(page).locator('.notice')).toHaveCount(0);
});

test('"Forgot password?" answers the same for an unknown address, and emails only confirmed accounts', async ({ page, request }) => {
  const unknown = uniqueEmail();
  await gotoHydrated(page, '/forgot-password');
  await page.getByLabel('Email', { exact: true }).fill(unknown);
  await page.getByRole('button', { name: 'Send link', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: RESET_ANSWER })).toContainText(unknown);
  const forUnknown = await answerText(page, unknown);

  const account = newAccount();
  await signUpViaApi(request, account);
  await gotoHydrated(page, '/forgot-password');
  await page.getByLabel('Email', { exact: true }).fill(account.email);
  await page.getByRole('button', { name: 'Send link', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: RESET_ANSWER })).toContainText(account.email);
  expect(await answerText(page, account.email)).toBe(forUnknown);
  await waitForMail(account.email, RESET_MAIL);

  // an account whose address nobody confirmed (made before sign-up confirmed addresses)
  const unconfirmed = newAccount();
  await signUpViaApi(request, unconfirmed);
  sql(`UPDATE users SET email_verified_at = NULL WHERE email_normalized = ${literal(unconfirmed.email)}`);
  const answers = [];
  for (const email of [account.email, unknown, unconfirmed.email]) {
    const response = await request.post('/api/auth/forgot-password', { form: { email }, headers: SAME_ORIGIN_HEADERS, maxRedirects: 0 });
    answers.push({ status: response.status(), body: await response.text() });
  }
  expect(answers[0].status).toBe(200);
  expect(answers[1]).toEqual(answers[0]);
  expect(answers[2]).toEqual(answers[0]);

  // the outbox row is written before the answer, in the same transaction as the link: none for these
  expect(countOf(`SELECT count(*) FROM email_outbox WHERE lower(to_address) = ${literal(unknown)}`)).toBe(0);
  expect(countOf(`SELECT count(*) FROM email_outbox WHERE lower(to_address) = ${literal(unconfirmed.email)} AND kind <> 'confirm_sign_up'`)).toBe(0);
  expect(countOf(`SELECT count(*) FROM email_outbox WHERE lower(to_address) = ${literal(account.email)} AND subject = ${literal(RESET_MAIL)}`)).toBe(2);
});

test("an emailed link's page comes whole, without waiting for JavaScript: the sign-up link's with the name asked for, the reset link's", async ({ page, browser, request }) => {
  const email = uniqueEmail();
  const before = (await mailsTo(email)).length;
  const asked = await page.request.post('/api/auth/sign-up', { form: { email, display_name: 'Ada Lovelace' }, headers: SAME_ORIGIN_HEADERS });
  expect(asked.status()).toBe(200);
  const finish = linkTo(await waitForMail(email, SIGN_UP_MAIL, { after: before }), '/sign-up/finish');
  const account = newAccount();
  await signUpViaApi(request, account);
  const reset = await resetLink(page, account.email);

  // (streamed, both pages said "Checking your link…" until a script swapped the rest in)
  const noScript = await browser.newContext({ baseURL: BASE_URL, javaScriptEnabled: false });
  try {
    const p = await noScript.newPage();
    await p.goto(finish);
    await expect(p.getByRole('heading', { level: 1 })).toHaveText('Finish creating your account');
    await expect(p.getByLabel('Display name (optional)')).toHaveValue('Ada Lovelace');
    await p.goto(reset);
    await expect(p.getByRole('heading', { level: 1 })).toHaveText('Choose a new password');
    await expect(p.getByText('Checking your link…')).toHaveCount(0);
  } finally {
    await noScript.close();
  }
});

test('a mangled link says it is not valid, with a way forward', async ({ page, request }) => {
  const account = newAccount();
  const signUp = await signUpLink(page, account.email);
  await page.goto(mangled(signUp));
  await waitForHydration(page);
  await expectLinkProblem(page, "This link isn't valid", { name: 'Start again', href: '/sign-up' });
  await expect(main(page)).toContainText('Check that you opened the whole link from the email');
  await checkA11y(page);
  // cut short, or none at all
  for (const path of [signUp.slice(0, -5), '/sign-up/finish']) {
    await page.goto(path);
    await waitForHydration(page);
    await expectLinkProblem(page, "This link isn't valid", { name: 'Start again', href: '/sign-up' });
  }
  // …and submitting one is refused by the server too
  const token = new URL(mangled(signUp)).searchParams.get('token')!;
  const refused = await request.post('/api/auth/sign-up/finish', { form: { token, password: account.password }, headers: SAME_ORIGIN_HEADERS, maxRedirects: 0 });
  expect(refused.status()).toBe(400);
  expect(usersWithEmail(account.email)).toBe(0);

  await finishSignUp(page, signUp, account.password);
  const reset = await resetLink(page, account.email);
  await page.goto(mangled(reset));
  await waitForHydration(page);
  await expectLinkProblem(page, "This link isn't valid", { name: 'Get a new link', href: '/forgot-password' });
  await checkA11y(page);
});

test('opening a link changes nothing: no account until the form is sent, and the link still works', async ({ page, request }) => {
  const account = newAccount();
  const link = await signUpLink(page, account.email);
  // a mail scanner fetches it, then the person opens it
  expect((await request.get(link)).status()).toBe(200);
  await page.goto(link);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Finish creating your account');
  expect(usersWithEmail(account.email)).toBe(0);
  expect(countOf(`SELECT count(*) FROM sign_up_requests WHERE email_normalized = ${literal(account.email)} AND used_at IS NULL`)).toBe(1);

  await page.getByLabel('Password', { exact: true }).fill(account.password);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expectSecurityPage(page);
  expect(usersWithEmail(account.email)).toBe(1);

  // the same for a reset link: opening it keeps the password, and it still works
  const reset = await resetLink(page, account.email);
  expect((await request.get(reset)).status()).toBe(200);
  await page.goto(reset);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Choose a new password');
  expect(await canSignIn(account.email, account.password)).toBe(true);
  const newPassword = strongPassword();
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByRole('button', { name: 'Save new password', exact: true }).click();
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('reset') === '1');
  expect(await canSignIn(account.email, newPassword)).toBe(true);
});
