/**
 * Guessing limits that cannot be turned against the owner (issue #12, 1 and 2): a browser that
 * has fully signed in to an account holds a device cookie, so someone else's wrong guesses can
 * lock only browsers that never signed in; and with failures on record, a right password is
 * followed by a right code that works at once.
 */
import {
  BAD_CREDENTIALS,
  BASE_URL,
  HTTP_4XX_LOG,
  SAME_ORIGIN_HEADERS,
  SECURITY_PATH,
  accountNav,
  alertOf,
  changePassword,
  expect,
  expectPathname,
  expectSecurityPage,
  gotoHydrated,
  literal,
  newAccount,
  signInViaUi,
  signUpViaApi,
  sql,
  submitSignInForm,
  test,
  turnOnAuthenticator,
  trackPageErrors,
} from './fixtures';

test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });

const DEVICE_COOKIE = '__Host-gatehouse-device';

function userId(email: string): string {
  return `(SELECT id FROM users WHERE email_normalized = ${literal(email.toLowerCase())})`;
}

test("someone else's guesses lock only browsers that never signed in: the owner's browser still signs in", async ({ page, browser, request }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const cookie = (await page.context().cookies()).find((c) => c.name === DEVICE_COOKIE);
  expect(cookie, 'signing up trusts this browser').toBeDefined();
  expect(cookie!.httpOnly).toBe(true);
  expect(cookie!.secure).toBe(true);
  expect(cookie!.sameSite).toBe('Lax');
  expect(cookie!.expires * 1000 - Date.now()).toBeGreaterThan(360 * 86_400_000);

  // someone else, without the cookie: five wrong guesses, then even the right password is refused…
  for (let i = 0; i < 5; i++) {
    const r = await request.post('/api/auth/sign-in', { form: { email: account.email, password: `guess number ${i}!` }, headers: SAME_ORIGIN_HEADERS });
    expect(r.status()).toBe(401);
  }
  const refused = await request.post('/api/auth/sign-in', { form: { email: account.email, password: account.password }, headers: SAME_ORIGIN_HEADERS });
  expect(refused.status()).toBe(401);
  // …and, fast-forwarded, 50 failures lock that path for an hour
  sql(
    `UPDATE sign_in_throttles SET failed_attempts = 50, last_failed_at = now(), locked_until = now() + interval '1 hour'
     WHERE user_id = ${userId(account.email)} AND device = ''`,
  );

  // the owner signs out and back in from the same browser: not locked out
  await gotoHydrated(page, SECURITY_PATH);
  await accountNav(page).getByRole('button', { name: 'Sign out' }).click();
  await expectPathname(page, '/sign-in');
  await submitSignInForm(page, account.email, account.password);
  await expectSecurityPage(page);

  // a browser that never signed in gets the same answer as a wrong password
  const stranger = await browser.newContext({ baseURL: BASE_URL });
  try {
    const other = await stranger.newPage();
    const errors = trackPageErrors(other, [HTTP_4XX_LOG]);
    await signInViaUi(other, account.email, account.password);
    await expect(alertOf(other)).toHaveText(BAD_CREDENTIALS);
    await expectPathname(other, '/sign-in');
    // copying the cookie's value into a session cookie signs nobody in
    const forged = await other.request.get(SECURITY_PATH, {
      headers: { Cookie: `__Host-gatehouse-session=${cookie!.value}` },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(303);
    expect(forged.headers()['location']).toMatch(/^\/sign-in\?return_to=/);
    expect(errors).toEqual([]);
  } finally {
    await stranger.close();
  }
});

test('with failures on record, a right password is followed by a right code that works at once', async ({ page, browser }) => {
  test.setTimeout(60_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  const totp = await turnOnAuthenticator(page);
  // ten wrong guesses from elsewhere, the last nine minutes ago (ten failures wait eight minutes)
  sql(
    `INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at)
     VALUES (${userId(account.email)}, '', 10, now() - interval '9 minutes')`,
  );
  // the owner, on a new computer: the right password, then the right code, straight away
  const laptop = await browser.newContext({ baseURL: BASE_URL });
  try {
    const other = await laptop.newPage();
    const errors = trackPageErrors(other, [HTTP_4XX_LOG]);
    await signInViaUi(other, account.email, account.password);
    await expect(other.getByRole('heading', { name: 'Two-step verification' })).toBeVisible();
    // a code of a step the enrolment did not use
    const step = Math.floor(Date.now() / 30_000);
    const code = totp.generate({ timestamp: (step + 1) * 30_000 });
    await other.waitForTimeout((step + 1) * 30_000 - Date.now() + 300);
    await other.getByLabel('6-digit code').fill(code);
    await other.getByRole('button', { name: 'Continue' }).click();
    await expectSecurityPage(other);
    expect(errors).toEqual([]);
  } finally {
    await laptop.close();
  }
});

test("the owner's own typos: her browser says how long to wait, instead of calling her right password wrong", async ({ page, browser }) => {
  // it waits out the throttle (up to 15 s) on top of about ten seconds of steps
  test.setTimeout(60_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  await accountNav(page).getByRole('button', { name: 'Sign out' }).click();
  await expectPathname(page, '/sign-in');
  // five typos in the browser she signed up in (free), then her right password (each answer
  // awaited: the alert of the one before already says the same)
  const signIn = async (password: string) => {
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/auth/sign-in'));
    await submitSignInForm(page, account.email, password);
    return answer;
  };
  for (let i = 0; i < 5; i++) {
    expect((await signIn(`my own typo ${i}!`)).status()).toBe(401);
    await expect(alertOf(page)).toHaveText(BAD_CREDENTIALS);
  }
  const response = await signIn(account.password);
  expect(response.status()).toBe(429);
  const wait = Number(response.headers()['retry-after']);
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(15);
  await expect(alertOf(page)).toHaveText(
    `Too many wrong attempts in this browser. Wait ${wait === 1 ? '1 second' : `${wait} seconds`}, then try again, or use Forgot password.`,
  );
  // a browser that never signed in to the account, waiting on the shared path, hears only the
  // wrong-password answer: nothing there says the account exists
  const stranger = await browser.newContext({ baseURL: BASE_URL });
  try {
    const other = await stranger.newPage();
    for (let i = 0; i < 6; i++) {
      const r = await other.request.post('/api/auth/sign-in', { form: { email: account.email, password: `a stranger's guess ${i}` }, headers: SAME_ORIGIN_HEADERS });
      expect(r.status()).toBe(401);
    }
    await signInViaUi(other, account.email, account.password);
    await expect(alertOf(other)).toHaveText(BAD_CREDENTIALS);
  } finally {
    await stranger.close();
  }
  // after the wait, her password signs her in
  await page.waitForTimeout(wait * 1000 + 300);
  await submitSignInForm(page, account.email, account.password);
  await expectSecurityPage(page);
});

test('copies of a browser trusted before the password changed share one count; the browser she changed it in keeps its own', async ({ page, browser, request }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const deviceCookie = async () => (await page.context().cookies()).find((c) => c.name === DEVICE_COOKIE)!;
  // (someone who once signed in could have kept a copy of this browser's cookie, or of many)
  const before = await deviceCookie();
  await gotoHydrated(page, SECURITY_PATH);
  const newPassword = `${account.password} changed`;
  await changePassword(page, account.password, newPassword);
  expect((await deviceCookie()).value, 'renewed by the change').not.toBe(before.value);
  await accountNav(page).getByRole('button', { name: 'Sign out' }).click();
  await expectPathname(page, '/sign-in');
  const signIn = (from: typeof request, password: string) =>
    from.post('/api/auth/sign-in', { form: { email: account.email, password }, headers: SAME_ORIGIN_HEADERS });
  // her five typos count on this browser's own path, which then says how long to wait
  for (let i = 0; i < 5; i++) expect((await signIn(page.request, `my own typo ${i}!`)).status()).toBe(401);
  expect((await signIn(page.request, newPassword)).status()).toBe(429);
  // two copies from before the change: not that browser any more, nor a budget each, but one
  // path they share (five guesses, then both wait)
  const copies = [await browser.newContext({ baseURL: BASE_URL }), await browser.newContext({ baseURL: BASE_URL })];
  try {
    for (const copy of copies) await copy.addCookies([before]);
    for (let i = 0; i < 5; i++) expect((await signIn(copies[0].request, `a guess at the new one ${i}`)).status()).toBe(401);
    const waiting = await signIn(copies[1].request, newPassword);
    expect(waiting.status()).toBe(429);
    // (not "in this browser": the wrong attempts came from another one)
    expect(Object.keys(await waiting.json())).toEqual(['TooManyTriesOnAccount']);
    // strangers without a cookie neither wait for it nor add to it
    expect((await signIn(request, 'a stranger guessing')).status()).toBe(401);
    const paths = `CASE device WHEN '' THEN 'strangers' WHEN 'stale' THEN 'stale' ELSE 'own' END`;
    const rows = sql(`SELECT ${paths}, failed_attempts FROM sign_in_throttles WHERE user_id = ${userId(account.email)} ORDER BY 1`);
    expect(rows).toBe('own|5\nstale|5\nstrangers|1');
  } finally {
    for (const copy of copies) await copy.close();
  }
});
