import type { APIRequestContext, APIResponse } from '@playwright/test';
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
  changePassword,
  expect,
  expectPathname,
  expectSecurityPage,
  gotoHydrated,
  linksIn,
  literal,
  mailsTo,
  newAccount,
  region,
  requestSignUpViaUi,
  signInViaApi,
  signInViaUi,
  signUpViaApi,
  signUpViaUi,
  sql,
  strongPassword,
  submitSignInForm,
  test,
  trackPageErrors,
  uniqueEmail,
  waitForHydration,
  waitForMail,
} from './fixtures';

// Several tests here provoke rejected requests on purpose (wrong password,
// too-short password); Chromium logs those 4xx responses
// as console errors. Page errors and 5xx responses still fail every test.
test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });

test('what was typed while the page was still loading its code is kept, and signs in', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page.request, account);
  await page.context().clearCookies();
  // the bundle is held back until both fields are typed into, as on a slow connection
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/pkg/*.wasm', async (route) => {
    await held;
    await route.continue();
  });
  await page.goto('/sign-in');
  await page.getByLabel('Email').fill(account.email);
  await page.getByLabel('Password', { exact: true }).fill(account.password);
  await expect(page.locator('html[data-hydrated]')).toHaveCount(0);
  release();
  await waitForHydration(page);
  await expect(page.getByLabel('Email')).toHaveValue(account.email);
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue(account.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expectSecurityPage(page);
});

test('sign up, change password, sign out, and sign back in with the new password', async ({ page }) => {
  const account = newAccount('Journey Tester');
  const newPassword = strongPassword();

  await signUpViaUi(page, account);
  await expectSecurityPage(page);

  const sessions = region(page, 'Sessions');
  await expect(sessions.getByRole('listitem')).toHaveCount(1);
  await expect(sessions.getByRole('listitem')).toContainText('This device');

  await changePassword(page, account.password, newPassword);

  await accountNav(page).getByRole('button', { name: 'Sign out' }).click();
  await expectPathname(page, '/sign-in');
  // the focus, dropped with the button, lands on the sentence (read out), not the page's heading
  await expect(page.getByRole('status').filter({ hasText: 'You have been signed out.' })).toBeFocused();

  await submitSignInForm(page, account.email, account.password);
  await expect(alertOf(page)).toHaveText(BAD_CREDENTIALS);

  await submitSignInForm(page, account.email, newPassword);
  await expectSecurityPage(page);
});

test.describe('sign-in failures do not reveal whether an account exists', () => {
  function postSignIn(request: APIRequestContext, email: string, password: string): Promise<APIResponse> {
    return request.post('/api/auth/sign-in', {
      form: { email, password, return_to: SECURITY_PATH },
      headers: SAME_ORIGIN_HEADERS,
      maxRedirects: 0,
    });
  }

  /** Removes what may legitimately differ between two responses: the echoed email and CSP nonces. */
  function normalizeBody(body: string, email: string): string {
    return body.replaceAll(email, '<email>').replace(/nonce(=|-)["']?[A-Za-z0-9+/=_-]+/g, 'nonce$1<nonce>');
  }

  test('wrong password and unknown email show the same alert', async ({ page, request }) => {
    const account = newAccount();
    await signUpViaApi(request, account);

    await signInViaUi(page, account.email, strongPassword());
    await expect(alertOf(page)).toHaveText(BAD_CREDENTIALS);
    // the keyboard stays in the form, on the password to type again (Sign in, disabled while the
    // request ran, had dropped the focus to the page)
    await expect(page.getByLabel('Password', { exact: true })).toBeFocused();

    await signInViaUi(page, newAccount().email, strongPassword());
    await expect(alertOf(page)).toHaveText(BAD_CREDENTIALS);
    await expect(page.getByLabel('Password', { exact: true })).toBeFocused();
  });

  test('an empty field is named, not called wrong, and the keyboard goes to it', async ({ page }) => {
    // (the browser's clock, timers included, is Playwright's from here: it runs on at its own
    // pace until paused)
    await page.clock.install();
    const account = newAccount();
    await gotoHydrated(page, '/sign-in');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    // said at the field, which it marks invalid and describes (read as the keyboard lands there)
    const email = page.getByLabel('Email', { exact: true });
    await expect(email).toHaveAccessibleDescription('Enter your email address.');
    await expect(email).toHaveAttribute('aria-invalid', 'true');
    await expect(email).toBeFocused();
    await email.fill(account.email);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const password = page.getByLabel('Password', { exact: true });
    await expect(password).toHaveAccessibleDescription('Enter your password.');
    await expect(password).toBeFocused();
    await expect(email).not.toHaveAttribute('aria-invalid', 'true');
    // Enter in that field again: the same sentence, said as an alert this time (the keyboard is
    // there already, so moving it would read nothing). For the tenth of a second it is away first
    // (held here by pausing the page's clock), the id that describes the field names an element.
    await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000);
    await password.press('Enter');
    await expect(page.locator('.field-error')).toHaveCount(0);
    const describedBy = (await password.getAttribute('aria-describedby')) ?? '';
    expect(describedBy).not.toBe('');
    const placeholder = page.locator(`[id="${describedBy}"]`);
    await expect(placeholder).toHaveCount(1);
    await expect(placeholder).toBeHidden();
    await expect(placeholder).toBeEmpty();
    await page.clock.resume();
    await expect(page.getByRole('alert')).toHaveText('Enter your password.');
    await expect(password).toHaveAccessibleDescription('Enter your password.');
    await expect(password).toBeFocused();
    // no address at all (no "@"): said at the field, not "Incorrect email or password."
    await email.fill('ada.example.test');
    await password.fill(strongPassword());
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect(email).toHaveAccessibleDescription('Enter an email address like name@example.com.');
    await expect(email).toBeFocused();
    await expect(page.getByRole('alert')).toHaveCount(0);
  });

  // The same work behind both answers (one argon2 verification each) is asserted by counting the
  // hasher's calls in server/tests (a timing comparison here could not fail: its tolerance would
  // be larger than a whole verification).
  test('wrong password and unknown email get the same HTTP answer', async ({ request }) => {
    const account = newAccount();
    await signUpViaApi(request, account);
    const unknownEmail = newAccount().email;

    const wrongPassword = await postSignIn(request, account.email, strongPassword());
    const unknownAccount = await postSignIn(request, unknownEmail, strongPassword());
    expect(wrongPassword.status()).toBe(401);
    expect(unknownAccount.status()).toBe(401);
    expect(normalizeBody(await unknownAccount.text(), unknownEmail)).toBe(
      normalizeBody(await wrongPassword.text(), account.email),
    );
  });
});

test('signing up again with the same email in another case and with spaces gets the same answer, and only tells the owner', async ({ page, request }) => {
  const account = newAccount();
  await signUpViaApi(request, account);

  const [local, domain] = account.email.split('@');
  const variant = `  ${local.toUpperCase()}@${domain[0].toUpperCase()}${domain.slice(1)} `;
  const before = (await mailsTo(account.email)).length;
  await requestSignUpViaUi(page, { email: variant });
  await expect(page.getByRole('status').filter({ hasText: CHECK_INBOX })).toContainText(variant.trim());
  await expect(alertOf(page)).toHaveCount(0);
  const told = await waitForMail(account.email, ACCOUNT_EXISTS_MAIL, { after: before });
  expect(linksIn(told).map((link) => new URL(link).pathname)).toEqual(['/sign-in', '/forgot-password']);

  // The server must normalize too: a browser trims an email field by itself,
  // so post the untrimmed variant directly. Same answer as a new address's, the same email,
  // nothing changes.
  const answers = [];
  for (const email of [newAccount().email, variant]) {
    const response = await request.post('/api/auth/sign-up', {
      form: { email, display_name: '' },
      headers: SAME_ORIGIN_HEADERS,
      maxRedirects: 0,
    });
    answers.push({ status: response.status(), body: await response.text() });
  }
  expect(answers[0].status).toBe(200);
  expect(answers[1]).toEqual(answers[0]);
  await waitForMail(account.email, ACCOUNT_EXISTS_MAIL, { after: before + 1 });
  const mails = await mailsTo(account.email);
  expect(mails.filter((mail) => mail.subject === SIGN_UP_MAIL)).toHaveLength(1); // the first sign-up's only
  expect(sql(`SELECT count(*) FROM users WHERE email_normalized = ${literal(account.email.toLowerCase())}`)).toBe('1');
  expect(await canSignIn(account.email, account.password)).toBe(true);
});

test('a password pasted far past any limit (100,000 characters) gets a sentence that says to shorten it', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  await page.context().clearCookies();
  await gotoHydrated(page, '/sign-in');
  await submitSignInForm(page, account.email, 'x'.repeat(100_000));
  await expect(alertOf(page)).toHaveText("That's more than Gatehouse accepts at once. Shorten what you entered and try again.");
  await expectPathname(page, '/sign-in');
  // over the password's own limit, though under the request's: said at the password field
  await submitSignInForm(page, account.email, 'x'.repeat(300));
  const field = page.getByLabel('Password', { exact: true });
  await expect(field).toHaveAccessibleDescription('Use at most 256 characters.');
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(field).toBeFocused();
  await expect(page.getByRole('alert')).toHaveCount(0);
  // and the form still works
  await submitSignInForm(page, account.email, account.password);
  await expectSecurityPage(page);
});

test('a name pasted far past any limit on the sign-up form: the same sentence, and the keyboard stays in the form, on the email', async ({ page }) => {
  await gotoHydrated(page, '/sign-up');
  const email = page.getByLabel('Email', { exact: true });
  await email.fill(uniqueEmail());
  await page.getByLabel('Display name (optional)').fill('名'.repeat(10_000));
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page.getByRole('alert')).toHaveText("That's more than Gatehouse accepts at once. Shorten what you entered and try again.");
  await expect(email).toBeFocused();
  // sent with Enter in the name: the keyboard stays there, to shorten it, and the email is as it was
  const name = page.getByLabel('Display name (optional)');
  const typed = await email.inputValue();
  const first = await page.getByRole('alert').elementHandle();
  await name.press('Enter');
  await expect.poll(() => first!.evaluate((el) => el.isConnected)).toBe(false);
  await expect(page.getByRole('alert')).toHaveText("That's more than Gatehouse accepts at once. Shorten what you entered and try again.");
  await expect(name).toBeFocused();
  await expect(email).toHaveValue(typed);
  // the name shortened: the link is sent
  await name.fill('名前');
  await name.press('Enter');
  await expect(page.getByRole('status')).toContainText('Check your inbox to finish creating your account.');
});

test('a password shorter than 15 characters is rejected and no account is created', async ({ page, request }) => {
  const account = { ...newAccount(), password: 'Fourteen-chars' }; // 14 characters
  expect(account.password).toHaveLength(14);

  await signUpViaUi(page, account);
  // said at the password field, which takes the focus (a screen reader reads its label, then why)
  const field = page.getByLabel('Password', { exact: true });
  const why = 'Use at least 15 characters (you have 14). A few unrelated words make a strong, memorable password.';
  await expect(field).toHaveAccessibleDescription(new RegExp(why.replace(/[.()]/g, '\\$&')));
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(field).toBeFocused();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expectPathname(page, '/sign-up/finish');
  expect(await canSignIn(account.email, account.password)).toBe(false);
  // Enter in the display name sends the form too, and the password field says why again
  await page.getByLabel('Display name (optional)', { exact: true }).press('Enter');
  await expect(field).toBeFocused();
  await expect(field).toHaveAccessibleDescription(new RegExp(why.replace(/[.()]/g, '\\$&')));

  // Server-side validation, independent of any client-side checks.
  const token = new URL(page.url()).searchParams.get('token')!;
  const rejected = await request.post('/api/auth/sign-up/finish', {
    form: { token, password: account.password },
    headers: SAME_ORIGIN_HEADERS,
    maxRedirects: 0,
  });
  expect(rejected.status()).toBe(422);
  expect(await rejected.json()).toEqual({ PasswordRejected: why });
  expect(await canSignIn(account.email, account.password)).toBe(false);
  expect(sql(`SELECT count(*) FROM users WHERE email_normalized = ${literal(account.email.toLowerCase())}`)).toBe('0');

  // The rejected attempts did not use the link up: a long enough password finishes the sign-up.
  const password = strongPassword();
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expectSecurityPage(page);
  expect(await canSignIn(account.email, password)).toBe(true);
});

test('sign-up and "Forgot password?" say what is wrong with a field at that field, which takes the focus', async ({ page }) => {
  await gotoHydrated(page, '/sign-up');
  const email = page.getByLabel('Email', { exact: true });
  const name = page.getByLabel('Display name (optional)', { exact: true });
  await email.fill('not-an-email');
  // sent from the button (disabled while the request runs, it would drop the focus)
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(email).toHaveAccessibleDescription('Enter an email address like name@example.com.');
  await expect(email).toHaveAttribute('aria-invalid', 'true');
  await expect(email).toBeFocused();
  await expect(page.getByRole('alert')).toHaveCount(0);
  // the name's rule, under the name (two fields below where the sentence used to be)
  await email.fill(uniqueEmail());
  await name.fill('x'.repeat(101));
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(name).toHaveAccessibleDescription('Use at most 100 characters for your name.');
  await expect(name).toBeFocused();
  await expect(email).not.toHaveAttribute('aria-invalid', 'true');
  // the error is about the name it was given: changing the name sets it aside until the next answer
  await page.keyboard.press('Backspace');
  await expect(name).not.toHaveAttribute('aria-invalid', 'true');
  await expect(page.getByText('Use at most 100 characters for your name.')).toHaveCount(0);

  await gotoHydrated(page, '/forgot-password');
  const address = page.getByLabel('Email', { exact: true });
  await page.getByRole('button', { name: 'Send link', exact: true }).click();
  await expect(address).toHaveAccessibleDescription('Enter your email address.');
  await expect(address).toBeFocused();
  await expect(page.getByRole('alert')).toHaveCount(0);
  // Enter pressed in the field, which has the focus already (moving it there would read nothing):
  // the sentence comes as an alert, and the keyboard stays in the field
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toHaveText('Enter your email address.');
  await expect(address).toBeFocused();
  // the answer replaces the form (and its focused button): the keyboard goes on from the answer
  await address.fill(uniqueEmail());
  await page.getByRole('button', { name: 'Send link', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'If an account uses this address, we sent a link.' })).toBeFocused();
});

test.describe('return_to after sign-in', () => {
  test('a protected page sends you to sign-in and back', async ({ page, request }) => {
    const account = newAccount();
    await signUpViaApi(request, account);

    await page.goto(SECURITY_PATH);
    await expect(page).toHaveURL(
      (url) => url.pathname === '/sign-in' && url.searchParams.get('return_to') === SECURITY_PATH,
    );

    await submitSignInForm(page, account.email, account.password);
    await expectSecurityPage(page);
  });

  test('Back after signing in does not bring the sign-in form back: it goes on to where signing in led', async ({ page, request }) => {
    const account = newAccount();
    await signUpViaApi(request, account);
    const target = `${SECURITY_PATH}?from=back`;

    await signInViaUi(page, account.email, account.password, `/sign-in?return_to=${encodeURIComponent(target)}`);
    await expectSecurityPage(page);
    // (the router drew the page in place of the form and its button: the keyboard starts at its
    // heading, which a screen reader reads, not at the top of an unannounced page)
    await expect(page.getByRole('heading', { level: 1, name: 'Security & Access' })).toBeFocused();
    await page.goBack();

    await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '?from=back');
    await expect(page.getByRole('heading', { level: 1, name: 'Security & Access' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Sign in to Gatehouse' })).toHaveCount(0);
  });

  const hostileTargets = [
    'https://evil.example/',
    '//evil.example/x',
    '/\\evil.example',
    'javascript:alert(1)',
    '/%2F%2Fevil.example',
  ];

  for (const target of hostileTargets) {
    test(`return_to=${target} keeps you on the site`, async ({ page, request }) => {
      const account = newAccount();
      await signUpViaApi(request, account);
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });

      await signInViaUi(page, account.email, account.password, `/sign-in?return_to=${encodeURIComponent(target)}`);
      await expect(page).toHaveURL((url) => url.pathname !== '/sign-in');
      expect(new URL(page.url()).origin).toBe(SITE_ORIGIN);
      expect(dialogs).toEqual([]);
    });
  }
});

test('"Sign out" on the current session ends it', async ({ page }) => {
  await signUpViaApi(page, newAccount());
  await gotoHydrated(page, SECURITY_PATH);

  const current = region(page, 'Sessions').getByRole('listitem').filter({ hasText: 'This device' });
  await current.getByRole('button', { name: 'Sign out' }).click();
  await expectPathname(page, '/sign-in');

  await page.goto(SECURITY_PATH);
  await expectPathname(page, '/sign-in');
});

test('changing the password signs out the other sessions', async ({ page, browser }) => {
  const account = newAccount();

  // Context A is the test's page; context B is a second, independent browser.
  // Each holds one session of the same account.
  const contextB = await browser.newContext({ baseURL: BASE_URL });
  try {
    const pageB = await contextB.newPage();
    const errorsB = trackPageErrors(pageB);

    await signUpViaApi(page, account);
    await signInViaApi(pageB, account.email, account.password);
    await gotoHydrated(pageB, SECURITY_PATH);
    await expectSecurityPage(pageB);

    await gotoHydrated(page, SECURITY_PATH);
    const sessions = region(page, 'Sessions').getByRole('listitem');
    await expect(sessions).toHaveCount(2);

    await changePassword(page, account.password, strongPassword());

    await pageB.goto(SECURITY_PATH);
    await expectPathname(pageB, '/sign-in');

    await page.reload();
    await expectSecurityPage(page);
    await expect(region(page, 'Sessions').getByRole('listitem')).toHaveCount(1);
    await expect(region(page, 'Sessions').getByRole('listitem')).toContainText('This device');

    expect(errorsB, 'page errors / console errors in context B').toEqual([]);
  } finally {
    await contextB.close();
  }
});

test('signing in to another account in a browser still signed in signs its first session out', async ({ page, request }) => {
  const first = newAccount();
  const second = newAccount();
  await signUpViaApi(page, first);
  await signUpViaApi(request, second);
  const active = (email: string) =>
    sql(`SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE u.email_normalized = ${literal(email.toLowerCase())} AND s.revoked_at IS NULL`);
  expect(active(first.email)).toBe('1');
  // this browser, still signed in as the first account, signs in as the second
  await signInViaApi(page, second.email, second.password);
  expect(await (await page.request.get('/api/session')).json()).toMatchObject({ email: second.email.toLowerCase() });
  // the first account's session is over (its cookie was replaced: nobody could use or end it),
  // and its activity says it signed out
  expect(active(first.email)).toBe('0');
  expect(
    sql(`SELECT kind FROM security_events e JOIN users u ON u.id = e.user_id
         WHERE u.email_normalized = ${literal(first.email.toLowerCase())} ORDER BY e.created_at DESC LIMIT 1`),
  ).toBe('signed_out');
});

test('with JavaScript off, a sign-in sent by the browser itself keeps the password out of the address and says JavaScript is needed', async ({ browser, request }) => {
  const account = newAccount();
  await signUpViaApi(request, account);
  const noScript = await browser.newContext({ baseURL: BASE_URL, javaScriptEnabled: false });
  try {
    const page = await noScript.newPage();
    await page.goto('/sign-in');
    await page.getByLabel('Email').fill(account.email);
    await page.getByLabel('Password', { exact: true }).fill(account.password);
    const answer = page.waitForResponse((r) => r.request().method() === 'POST');
    await page.getByLabel('Password', { exact: true }).press('Enter');
    expect((await answer).status()).toBe(400);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('JavaScript needed');
    await expect(page.getByText('Gatehouse needs JavaScript to send this form.')).toBeVisible();
    // (a GET form put every field, the password too, in the address and the history)
    expect(page.url()).toBe(`${BASE_URL}/sign-in`);
    expect(page.url()).not.toContain(encodeURIComponent(account.password).slice(0, 8));
    await page.getByRole('link', { name: 'Go back' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in to Gatehouse');
  } finally {
    await noScript.close();
  }
});

test('the Gatehouse name in the header leads to sign-in when signed out, and to Security & Access when signed in', async ({ page }) => {
  await gotoHydrated(page, '/sign-up');
  await page.getByRole('link', { name: 'Gatehouse', exact: true }).click();
  await expectPathname(page, '/sign-in');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in to Gatehouse');
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const brand = page.getByRole('banner').getByRole('link', { name: 'Gatehouse', exact: true });
  await expect(brand).toHaveAttribute('href', SECURITY_PATH);
  await brand.click();
  await expectSecurityPage(page);
});
