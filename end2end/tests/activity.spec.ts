/**
 * Security alerts and activity, end to end against the real server, Postgres and mail catcher:
 * an unfamiliar sign-in emails one alert whose "This wasn't me" signs that device out and sends a
 * reset link; the page's "Was this you?" prompt (No: every other session ends and Change password
 * opens; Yes: it goes away); Recent security activity with its pages, filter and downloads.
 *
 * "Unfamiliar" needs another network: the attacker's browser sends its own X-Forwarded-For (the
 * test server trusts 127.0.0.1 as a proxy), in 203.0.113.0/24 (TEST-NET-3), which no test's own
 * address (198.18.0.0/15) shares.
 */
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import {
  type Account,
  accountNav,
  addAuthenticator,
  BASE_URL,
  canSignIn,
  HTTP_4XX_LOG,
  SECURITY_PATH,
  expect,
  expectPathname,
  gotoHydrated,
  holdOverviewReloads,
  linkTo,
  literal,
  mailsTo,
  newAccount,
  region,
  SAME_ORIGIN_HEADERS,
  signInViaApi,
  signUpViaApi,
  sql,
  strongPassword,
  test,
  waitForHydration,
  waitForMail,
  withoutAutofill,
} from './fixtures';

test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });

const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const ALERT_MAIL = /^New sign-in to your Gatehouse account from /;

let attackerAddresses = 0;

/** A browser on another network (its own address in 203.0.113.0/24) with Chrome on Windows. */
async function elsewhere(browser: Browser): Promise<{ context: BrowserContext; page: Page; ip: string }> {
  attackerAddresses = (attackerAddresses % 250) + 1;
  const ip = `203.0.113.${attackerAddresses}`;
  const context = await browser.newContext({ baseURL: BASE_URL, userAgent: CHROME_WINDOWS, extraHTTPHeaders: { 'X-Forwarded-For': ip } });
  return { context, page: await context.newPage(), ip };
}

/**
 * A new account (signed up in `page`'s browser) that was then signed in to from `elsewhere`, that
 * browser closed since: its owner has one unfamiliar sign-in, and its alert is on its way.
 */
async function accountSignedInToElsewhere(page: Page, browser: Browser): Promise<Account> {
  const account = newAccount();
  await signUpViaApi(page, account);
  const attacker = await elsewhere(browser);
  try {
    await signInViaApi(attacker.page, account.email, account.password);
  } finally {
    await attacker.context.close();
  }
  return account;
}

async function alertsTo(email: string) {
  return (await mailsTo(email)).filter((m) => ALERT_MAIL.test(m.subject));
}

test('an unfamiliar sign-in emails one alert, and its "This wasn\'t me" signs that device out and sends a reset link', async ({ page, browser }) => {
  // three browsers, six sign-ins, a reset and three emails: 15 s alone, over 40 s once under make
  // test's four workers on two cores
  test.setTimeout(90_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  // the owner's own browser signing in again is familiar
  await signInViaApi(page, account.email, account.password);
  const attacker = await elsewhere(browser);
  try {
    await signInViaApi(attacker.page, account.email, account.password);
    const alert = await waitForMail(account.email, ALERT_MAIL);
    expect(alert.subject).toBe('New sign-in to your Gatehouse account from Chrome 131 on Windows 10');
    expect(alert.text).toContain(`IP address ${attacker.ip}`);
    expect(alert.text).toContain('Signed in with: a password');
    expect(new URL(linkTo(alert, SECURITY_PATH)).pathname).toBe(SECURITY_PATH);
    const notMe = linkTo(alert, '/this-wasnt-me');
    // the same browser signing in again is familiar (it holds this account's device cookie now)
    await signInViaApi(attacker.page, account.email, account.password);
    await gotoHydrated(attacker.page, SECURITY_PATH);

    // opening the link (as a mail scanner would) changes nothing
    const reader = await browser.newContext({ baseURL: BASE_URL });
    const readerPage = await reader.newPage();
    // (hydrated: the button acts once the page is interactive)
    await gotoHydrated(readerPage, notMe);
    const main = readerPage.getByRole('main');
    await expect(main.getByRole('heading', { name: "Wasn't you? Secure your account" })).toBeVisible();
    await expect(main).toContainText('Chrome 131 on Windows 10');
    await expect(main).toContainText(`(IP address ${attacker.ip})`);
    await expect(main).toContainText('a password');
    const before = (await mailsTo(account.email)).length;
    await attacker.page.reload();
    await expectPathname(attacker.page, SECURITY_PATH);

    // (its first session ended when the same browser signed in again: the page does not promise
    // to sign it out, only what signed in since)
    await expect(main).toContainText('That device is already signed out.');
    await expect(main).toContainText("We'll sign out any sign-in since, remove any passkey");
    await expect(main).toContainText('and stop your password from working, in case they know it.');
    await main.getByRole('button', { name: 'Secure my account' }).click();
    await expect(main.getByRole('heading', { name: 'That device is signed out' })).toBeVisible();
    // the button it replaced had the focus: the keyboard and a screen reader go on from the answer
    await expect(main.getByRole('status').filter({ hasText: 'That device is signed out' })).toBeFocused();
    await expect(main).toContainText(
      `Your password no longer works, in case whoever signed in knows it. We sent a link to choose a new one to ${account.email}. It works for 60 minutes.`,
    );
    // (it says why: the password is off already, so "ignore this" would be wrong)
    const reset = await waitForMail(account.email, 'Choose a new Gatehouse password', { after: before });
    expect(reset.text).toContain("You reported a sign-in to your Gatehouse account that wasn't you, so your password was turned off");
    // exactly one alert: the familiar sign-ins before and after sent none (the sender goes in
    // order, so they would have arrived before the reset link)
    expect((await alertsTo(account.email)).length).toBe(1);

    // that device's next request lands on sign-in; the owner's browser is still signed in
    await attacker.page.goto(SECURITY_PATH);
    await expectPathname(attacker.page, '/sign-in');
    await gotoHydrated(page, SECURITY_PATH);
    await expectPathname(page, SECURITY_PATH);
    // the owner's activity names the sign-in reported and what ended (its later, familiar one too)
    await expect(region(page, 'Recent security activity').getByRole('listitem').filter({ hasText: 'Reported a sign-in' })).toContainText(
      /Reported a sign-in that wasn't you \(Chrome 131 on Windows 10[^,]*, from the email\): it had already ended, and 1 other session ended/,
    );
    // the reader was signed in nowhere
    await readerPage.goto(SECURITY_PATH);
    await expectPathname(readerPage, '/sign-in');

    // the link works once
    await readerPage.goto(notMe);
    await expect(readerPage.getByRole('heading', { name: 'This link was already used' })).toBeVisible();
    // (no new one can be asked for: the page says what to do instead)
    await expect(readerPage.getByText('This sign-in was already reported, or answered on your Security & Access page.')).toBeVisible();
    // a mangled one says so
    await readerPage.goto(`${notMe}x`);
    await expect(readerPage.getByRole('heading', { name: "This link isn't valid" })).toBeVisible();

    // the phished password signs nobody in again; the emailed link sets a new one
    expect(await canSignIn(account.email, account.password)).toBe(false);
    await gotoHydrated(readerPage, linkTo(reset, '/reset-password'));
    // no "Remembered it? Sign in": the password that could be remembered no longer works
    await expect(readerPage.getByText('Remembered it?')).toHaveCount(0);
    // not the one that stopped working: whoever signed in may know it
    const chosen = readerPage.getByLabel('New password', { exact: true });
    await chosen.fill(account.password);
    await readerPage.getByRole('button', { name: 'Save new password', exact: true }).click();
    await expect(readerPage.getByText('This is the password that stopped working when you reported the sign-in')).toHaveText(
      'This is the password that stopped working when you reported the sign-in: whoever signed in may know it. Choose a different one.',
    );
    await expect(chosen).toHaveAttribute('aria-invalid', 'true');
    expect(await canSignIn(account.email, account.password)).toBe(false);
    const newPassword = strongPassword();
    await readerPage.getByLabel('New password', { exact: true }).fill(newPassword);
    await readerPage.getByRole('button', { name: 'Save new password', exact: true }).click();
    await expect(readerPage).toHaveURL((url) => url.pathname === '/sign-in' && url.searchParams.get('reset') === '1');
    expect(await canSignIn(account.email, newPassword)).toBe(true);
    expect(await canSignIn(account.email, account.password)).toBe(false);
    await reader.close();
  } finally {
    await attacker.context.close();
  }
});

test('"It was me" on the email\'s page answers the sign-in (the page stops asking), then leads a browser signed in to nothing to sign-in without saying it was signed out', async ({ page, browser }) => {
  const account = await accountSignedInToElsewhere(page, browser);
  const notMe = linkTo(await waitForMail(account.email, ALERT_MAIL), '/this-wasnt-me');
  const reader = await browser.newContext({ baseURL: BASE_URL });
  try {
    const p = await reader.newPage();
    await gotoHydrated(page, SECURITY_PATH);
    await expect(page.getByRole('region', { name: 'New sign-in: was this you?' })).toBeVisible();
    await gotoHydrated(p, notMe);
    await p.getByRole('button', { name: 'It was me' }).click();
    const mine = p.getByRole('status').filter({ has: p.getByRole('heading', { name: 'Marked as yours' }) });
    await expect(mine).toBeFocused();
    await expect(mine).toContainText("Thanks. We won't ask about this sign-in again.");
    // the owner's page no longer asks about it
    await gotoHydrated(page, SECURITY_PATH);
    await expect(page.getByRole('region', { name: 'New sign-in: was this you?' })).toHaveCount(0);
    // the link still reports it, and says it was marked
    await gotoHydrated(p, notMe);
    await expect(p.getByText('This sign-in was marked as yours on ')).toBeVisible();
    await p.getByRole('button', { name: 'It was me' }).click();
    await mine.getByRole('link', { name: 'Go to Security & Access' }).click();
    await expectPathname(p, '/sign-in');
    await expect(p.getByRole('heading', { level: 1 })).toHaveText('Sign in to Gatehouse');
    // (the router drew the page and said "You were signed out of this device": it never was signed in)
    await expect(p.getByText('You were signed out of this device')).toHaveCount(0);
    // reported from a second tab while the first still shows the link's page: the first tab's
    // "It was me" says the link was used, instead of drawing the same page again
    await gotoHydrated(p, notMe);
    const second = await reader.newPage();
    await gotoHydrated(second, notMe);
    await second.getByRole('button', { name: 'Secure my account' }).click();
    await expect(second.getByRole('heading', { name: 'That device is signed out' })).toBeVisible();
    await p.getByRole('button', { name: 'It was me' }).click();
    await expect(p.getByRole('heading', { level: 1 })).toHaveText('This link was already used');
    await expect(p.getByRole('heading', { level: 1 })).toBeFocused();
  } finally {
    await reader.close();
  }
});

test('"This wasn\'t me" opened in a browser signed in to another account: the page says the link is not about that one, and Sign in goes by signing it out', async ({ page, browser }) => {
  const account = await accountSignedInToElsewhere(page, browser);
  const notMe = linkTo(await waitForMail(account.email, ALERT_MAIL), '/this-wasnt-me');
  // the owner's own browser, signed in to the account the link is about, is told nothing of the kind
  await gotoHydrated(page, notMe);
  await expect(page.getByRole('button', { name: 'Secure my account' })).toBeVisible();
  await expect(page.getByText("You're signed in as")).toHaveCount(0);
  // a browser signed in to someone else's account (a shared computer, the forwarded email)
  const reader = await browser.newContext({ baseURL: BASE_URL });
  try {
    const p = await reader.newPage();
    const other = newAccount('Ben');
    await signUpViaApi(p, other);
    const ben = other.email.toLowerCase();
    await gotoHydrated(p, notMe);
    await expect(p.locator('main')).toContainText(
      `You're signed in as ${ben} in this browser. This link is about another account's sign-in: reporting it changes nothing for the one signed in here.`,
    );
    await p.getByRole('button', { name: 'Secure my account' }).click();
    const done = p.getByRole('status').filter({ has: p.getByRole('heading', { name: 'That device is signed out' }) });
    await expect(done).toContainText(`You're signed in as ${ben} in this browser. Sign out of it to sign in to your account here.`);
    // no Sign in that would open Ben's account; his session is as it was until he is signed out
    await expect(done.getByRole('link', { name: 'Sign in' })).toHaveCount(0);
    expect((await (await p.request.get('/api/session')).json())?.email).toBe(ben);
    await done.getByRole('button', { name: 'Sign out and sign in' }).click();
    await expectPathname(p, '/sign-in');
    await expect(p.getByRole('heading', { level: 1 })).toHaveText('Sign in to Gatehouse');
    expect(await (await p.request.get('/api/session')).text()).toBe('null');
  } finally {
    await reader.close();
  }
});

test('"This wasn\'t me" also removes the passkey that sign-in added, so it no longer signs in', async ({ page, browser }) => {
  test.setTimeout(60_000);
  const account = newAccount();
  await signUpViaApi(page, account);
  const attacker = await elsewhere(browser);
  try {
    await withoutAutofill(attacker.page);
    await addAuthenticator(attacker.page);
    await signInViaApi(attacker.page, account.email, account.password);
    const notMe = linkTo(await waitForMail(account.email, ALERT_MAIL), '/this-wasnt-me');
    // with the password alone, a passkey of their own: a way back in after any new password
    await gotoHydrated(attacker.page, SECURITY_PATH);
    const theirPasskeys = region(attacker.page, 'Passkeys');
    await theirPasskeys.getByRole('button', { name: 'New passkey' }).click();
    await theirPasskeys.getByLabel('Name (optional)').fill('Their key');
    await theirPasskeys.getByRole('button', { name: 'Continue' }).click();
    await expect(theirPasskeys.locator('li.passkey-row')).toHaveText([/Their key/]);

    await gotoHydrated(page, notMe);
    const main = page.getByRole('main');
    await expect(main).toContainText('remove any passkey, connected account or authenticator app they added');
    await main.getByRole('button', { name: 'Secure my account' }).click();
    await expect(main.getByRole('heading', { name: 'That device is signed out' })).toBeVisible();
    await expect(main).toContainText('Also removed what that sign-in or a later one added: the passkey “Their key”.');

    // the owner's page lists no passkey; theirs no longer signs in
    await gotoHydrated(page, SECURITY_PATH);
    await expect(region(page, 'Passkeys')).toContainText('No passkeys yet');
    await attacker.page.goto(SECURITY_PATH);
    await expectPathname(attacker.page, '/sign-in');
    await waitForHydration(attacker.page);
    await attacker.page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect(attacker.page.getByRole('alert')).toContainText('This passkey is not registered with Gatehouse (it may have been removed).');
    await expectPathname(attacker.page, '/sign-in');
  } finally {
    await attacker.context.close();
  }
});

test('a "This wasn\'t me" link expires after 72 hours', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const attacker = await elsewhere(browser);
  try {
    await signInViaApi(attacker.page, account.email, account.password);
    const notMe = linkTo(await waitForMail(account.email, ALERT_MAIL), '/this-wasnt-me');
    sql(`UPDATE sign_in_alerts SET created_at = created_at - interval '73 hours', expires_at = expires_at - interval '73 hours'
         WHERE user_id = (SELECT id FROM users WHERE email = ${literal(account.email)})`);
    await page.goto(notMe);
    await expect(page.getByRole('heading', { name: 'This link has expired' })).toBeVisible();
    await expect(page.getByText('It works for 72 hours after the sign-in.')).toBeVisible();
    // and the session it was about is still there
    await attacker.page.goto(SECURITY_PATH);
    await expectPathname(attacker.page, SECURITY_PATH);
  } finally {
    await attacker.context.close();
  }
});

test('"Was this you?": No ends that session and every other one, then opens Change password', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const attacker = await elsewhere(browser);
  try {
    await signInViaApi(attacker.page, account.email, account.password);
    await gotoHydrated(page, SECURITY_PATH);
    // (the test's addresses are in a range no geo-IP database places: no "near …")
    await expect(page.getByRole('heading', { name: 'New sign-in: Chrome 131 on Windows 10, just now. Was this you?' })).toBeVisible();
    // the session asked about is never asked itself (it could answer for the owner)
    await gotoHydrated(attacker.page, SECURITY_PATH);
    await expect(attacker.page.getByRole('heading', { name: /Was this you\?/ })).toHaveCount(0);

    // the page reloads its settings after the change, slowly here (as on a busy server): the new
    // password's field still gets the focus once the page is drawn again
    let reloads = 0;
    await page.route('**/api/security/overview*', async (route) => {
      reloads += 1;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue();
    });
    await page.getByRole('button', { name: 'No, secure my account' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Signed out of 1 other session. Now choose a new password below.' })).toBeVisible();
    const password = region(page, 'Password');
    await expect.poll(() => reloads).toBe(1);
    await expect(page.getByRole('heading', { name: /Was this you\?/ })).toHaveCount(0);
    await expect(password.getByLabel('Current password', { exact: true })).toBeFocused();
    await page.unroute('**/api/security/overview*');
    await attacker.page.reload();
    await expectPathname(attacker.page, '/sign-in');

    await password.getByLabel('Current password', { exact: true }).fill(account.password);
    await password.getByLabel('New password', { exact: true }).fill('seven purple tractors at dawn');
    await password.getByRole('button', { name: 'Update password' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Password changed' })).toBeVisible();
  } finally {
    await attacker.context.close();
  }
});

test('"Was this you?" on an account without a password: No says to check its passkeys and connected accounts, and opens no password form', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const attacker = await elsewhere(browser);
  try {
    await signInViaApi(attacker.page, account.email, account.password);
    // (the account signs in another way now: a passkey or Google, say)
    sql(`UPDATE users SET password_hash = NULL WHERE email_normalized = ${literal(account.email.toLowerCase())}`);
    await gotoHydrated(page, SECURITY_PATH);
    await page.getByRole('button', { name: 'No, secure my account' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Signed out of 1 other session.' })).toHaveText(
      "Signed out of 1 other session. Now check the passkeys and connected accounts below, and remove any you don't recognise.",
    );
    await expect(page.getByRole('heading', { name: /Was this you\?/ })).toHaveCount(0);
    const password = region(page, 'Password');
    await expect(password.getByRole('button', { name: 'Set password' })).toBeVisible();
    await expect(password.getByLabel('New password', { exact: true })).toHaveCount(0);
    await attacker.page.goto(SECURITY_PATH);
    await expectPathname(attacker.page, '/sign-in');
  } finally {
    await attacker.context.close();
  }
});

test('"Was this you?": Yes makes it go away, for good, and the emailed "This wasn\'t me" link says so (and still works)', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const attacker = await elsewhere(browser);
  try {
    await signInViaApi(attacker.page, account.email, account.password);
    const notMe = linkTo(await waitForMail(account.email, ALERT_MAIL), '/this-wasnt-me');
    await gotoHydrated(page, SECURITY_PATH);
    // (the page's reload after the answer held back until the answer's sentence is there)
    const letGo = await holdOverviewReloads(page);
    await page.getByRole('button', { name: 'Yes, it was me' }).click();
    const said = page.getByRole('status').filter({ hasText: 'Thanks. That sign-in is marked as yours' });
    await expect(said).toBeVisible();
    // put on the page once: the reload that takes the question away leaves it (it drew it again,
    // and a screen reader read it twice)
    await said.evaluate((el) => el.setAttribute('data-test-drawn', 'once'));
    letGo();
    await expect(page.getByRole('heading', { name: /Was this you\?/ })).toHaveCount(0);
    await page.unroute('**/api/security/overview*');
    // said, where the keyboard now is
    await expect(said).toHaveText('Thanks. That sign-in is marked as yours; a new one from elsewhere will be asked about again.');
    await expect(said).toHaveAttribute('data-test-drawn', 'once');
    await expect(said).toBeFocused();
    // the emailed link says it was marked as the owner's (whoever said Yes may not be her: any
    // older session can), and still offers the report
    const reader = await browser.newContext({ baseURL: BASE_URL });
    try {
      const readerPage = await reader.newPage();
      await gotoHydrated(readerPage, notMe);
      await expect(readerPage.getByRole('heading', { level: 1 })).toHaveText("Wasn't you? Secure your account");
      await expect(readerPage.getByRole('main')).toContainText('This sign-in was marked as yours on ');
      await expect(readerPage.getByRole('button', { name: 'Secure my account' })).toBeEnabled();
    } finally {
      await reader.close();
    }
    await gotoHydrated(page, SECURITY_PATH);
    await expect(page.getByRole('heading', { name: /Was this you\?/ })).toHaveCount(0);
    // the session stays
    await attacker.page.goto(SECURITY_PATH);
    await expectPathname(attacker.page, SECURITY_PATH);
    await expect(region(page, 'Recent security activity').getByRole('listitem').first()).toContainText('Confirmed a new sign-in was you');
  } finally {
    await attacker.context.close();
  }
});

/** A minimal RFC 4180 reader (quoted fields, doubled quotes, commas and newlines inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

async function download(page: Page, name: string): Promise<string> {
  const [file] = await Promise.all([page.waitForEvent('download'), region(page, 'Recent security activity').getByRole('link', { name }).click()]);
  return readFileSync((await file.path())!, 'utf8');
}

/// `count` (23) older sign-ins of the account (a state no page makes quickly), one a minute, from
/// 10 minutes ago, from 192.0.2.1 on.
function olderSignIns(email: string, count = 23) {
  sql(`INSERT INTO security_events (id, user_id, kind, method, ip, user_agent, location, created_at)
       SELECT gen_random_uuid(), u.id, 'signed_in', 'password', '192.0.2.' || n, ${literal(CHROME_WINDOWS)}, 'Unknown',
              now() - make_interval(mins => 9 + n)
       FROM users u, generate_series(1, ${count}) AS n WHERE u.email = ${literal(email)}`);
}

test('Show more with older pages still to come keeps the keyboard on Show more', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  olderSignIns(account.email, 45);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Recent security activity');
  const rows = section.getByRole('listitem');
  await expect(rows).toHaveCount(20);
  const more = section.getByRole('button', { name: 'Show more' });
  await more.focus();
  await page.keyboard.press('Enter');
  await expect(rows).toHaveCount(40);
  // (disabled while the page loaded, the button had dropped the focus to the page)
  await expect(more).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(rows).toHaveCount(47);
  await expect(more).toHaveCount(0);
});

test('Recent security activity shows only this account\'s events, pages with Show more, filters by kind, and both downloads match it', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const other = newAccount();
  const stranger = await browser.newContext({ baseURL: BASE_URL });
  await signUpViaApi(stranger.request, other);
  await stranger.close();
  olderSignIns(account.email);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Recent security activity');
  const rows = section.getByRole('listitem');
  // created, signed in (sign-up), and the 23: 25 in all, 20 on the first page
  await expect(rows).toHaveCount(20);
  const newest = (await rows.allInnerTexts()).slice(0, 2).join(' | ');
  expect(newest).toContain('Signed in with a password');
  expect(newest).toContain('Created the account');
  // each row says its exact time on the line, so the keyboard passes the list in one step
  await expect(rows.first().locator('.activity-meta')).toHaveText(/^(just now|1 minute ago) · \d{4}-\d\d-\d\d \d\d:\d\d UTC · /);
  await section.getByRole('link', { name: 'Download JSON' }).focus();
  await page.keyboard.press('Tab');
  await expect(section.getByRole('button', { name: 'Show more' })).toBeFocused();
  // what a screen reader hears as the list changes
  const said = section.locator('[aria-live="polite"]');
  // nothing until the list is asked to change here (the card is drawn again after every change
  // on the page, and said "20 events shown" over that change's own sentence)
  await expect(said).toHaveText('');
  await section.getByRole('button', { name: 'Show more' }).click();
  await expect(rows).toHaveCount(25);
  await expect(section.getByRole('button', { name: 'Show more' })).toHaveCount(0);
  await expect(said).toHaveText('25 events shown.');
  // the button left with the last page: the keyboard goes on at the first event it added
  await expect(rows.nth(20)).toBeFocused();
  await expect(rows.nth(20)).toContainText('192.0.2.19');
  const shown = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
  // the older ones, oldest last, with their addresses
  expect(shown[24]).toContain('192.0.2.23');
  expect(shown[2]).toContain('192.0.2.1');
  // the other account's events are not here
  expect(shown.filter((t) => t.includes('Created the account'))).toHaveLength(1);

  const csv = parseCsv(await download(page, 'Download CSV'));
  expect(csv[0]).toEqual(['time', 'kind', 'description', 'device', 'location', 'ip', 'user_agent']);
  const data = csv.slice(1).filter((r) => r.length > 1);
  expect(data).toHaveLength(25);
  data.forEach((r, i) => {
    expect(shown[i]).toContain(r[2]);
    expect(shown[i]).toContain(r[3]);
    expect(shown[i]).toContain(r[5]);
  });
  expect(data[24][6]).toBe(CHROME_WINDOWS);

  const json = JSON.parse(await download(page, 'Download JSON')) as { events: { description: string; ip: string; kind: string; time: string }[] };
  expect(json.events).toHaveLength(25);
  expect(json.events.map((e) => e.description)).toEqual(data.map((r) => r[2]));
  expect(json.events.map((e) => e.time)).toEqual(data.map((r) => r[0]));

  // a filter shows only its kinds, and its download too
  await section.getByLabel('Show').selectOption({ label: 'Credential changes' });
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Created the account');
  await expect(said).toHaveText('1 event shown.');
  const filtered = JSON.parse(await download(page, 'Download JSON')) as { filter: string; events: { kind: string }[] };
  expect(filtered.filter).toBe('credentials');
  expect(filtered.events.map((e) => e.kind)).toEqual(['account_created']);
  // back to every kind: the first page again (it comes with the page's overview), then the rest
  await section.getByLabel('Show').selectOption({ label: 'All activity' });
  await expect(rows).toHaveCount(20);
  await expect(said).toHaveText('20 events shown; older ones under Show more.');
  await section.getByRole('button', { name: 'Show more' }).click();
  await expect(rows).toHaveCount(25);
  // a change elsewhere on the page draws the list again: said by that change, not by the list
  await page.locator('.verified-banner').getByRole('button', { name: 'End now' }).click();
  await expect(page.locator('.verified-banner')).toHaveCount(0);
  await expect(rows).toHaveCount(20);
  await expect(said).toHaveText('');
});

test('a chosen filter stays in the address: a reload, or the server\'s page alone, shows the same list; All activity takes it out', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Recent security activity');
  const rows = section.getByRole('listitem');
  const filter = section.getByLabel('Show');
  const everything = await rows.count();
  expect(everything).toBeGreaterThan(1);
  await filter.selectOption({ label: 'Credential changes' });
  await expect(rows).toHaveCount(1);
  await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '?activity=credentials');
  // a reload keeps the list as it was chosen
  await page.reload();
  await waitForHydration(page);
  await expect(filter).toHaveValue('credentials');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Created the account');
  // the server draws it filtered itself, before any script runs
  const html = await (await page.request.get(`${SECURITY_PATH}?activity=credentials`)).text();
  expect(html.match(/class="activity-row"/g)).toHaveLength(1);
  expect(html).toContain('data-kind="account_created"');
  // every kind again: the address says nothing of a filter
  await filter.selectOption({ label: 'All activity' });
  await expect(rows).toHaveCount(everything);
  await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '');
  // a filter the list does not have shows every kind, and leaves the address
  await gotoHydrated(page, `${SECURITY_PATH}?activity=nonsense`);
  await expect(filter).toHaveValue('');
  await expect(rows).toHaveCount(everything);
  await expect(page).toHaveURL((url) => url.pathname === SECURITY_PATH && url.search === '');
});

for (const action of ['Download CSV', 'another filter'] as const) {
  test(`${action} after this session ended elsewhere goes to sign-in, saying so (no file of the sign-in page)`, async ({ page }) => {
    const downloads: string[] = [];
    page.on('download', (d) => downloads.push(d.suggestedFilename()));
    const account = newAccount();
    await signUpViaApi(page, account);
    await gotoHydrated(page, SECURITY_PATH);
    const section = region(page, 'Recent security activity');
    await expect(section.getByRole('link', { name: 'Download CSV' })).toBeVisible();
    // signed out in another tab of this browser: this page still shows the account
    const out = await page.request.post('/api/auth/sign-out', { headers: SAME_ORIGIN_HEADERS });
    expect(out.status()).toBe(200);
    if (action === 'Download CSV') {
      await section.getByRole('link', { name: 'Download CSV' }).click();
    } else {
      await section.getByLabel('Show').selectOption({ label: 'Sign-ins' });
    }
    await expectPathname(page, '/sign-in');
    await expect(page.getByRole('status')).toHaveText(/You were signed out of this device/);
    expect(downloads).toEqual([]);
  });
}

test('signing out is listed with the device and address it came from', async ({ page, browser }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const laptop = await elsewhere(browser);
  try {
    await signInViaApi(laptop.page, account.email, account.password);
    await gotoHydrated(laptop.page, SECURITY_PATH);
    await accountNav(laptop.page).getByRole('button', { name: 'Sign out' }).click();
    await expectPathname(laptop.page, '/sign-in');
  } finally {
    await laptop.context.close();
  }
  await gotoHydrated(page, SECURITY_PATH);
  const newest = region(page, 'Recent security activity').getByRole('listitem').first();
  await expect(newest).toContainText('Signed out');
  await expect(newest).toContainText('Chrome 131 on Windows 10');
  await expect(newest).toContainText(laptop.ip);
  await expect(newest).not.toContainText('unknown');
});

/**
 * Records two sign-outs of `email`'s account with no device or address (as the demo accounts'
 * "Created the account", made at start-up with no request, or a sign-out recorded before 9a3ecc8),
 * at whole minutes: three hours and a half ago (its line says both times) and 40 days ago (past
 * 30 days the exact time alone, not "on <date>" before it).
 */
function twoSignOutsWithoutADevice(email: string): { at: Date; longAgo: Date } {
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  const at = new Date(minute - 210 * 60_000);
  const longAgo = new Date(minute - 40 * 24 * 60 * 60_000);
  sql(`INSERT INTO security_events (id, user_id, kind, created_at)
       SELECT gen_random_uuid(), id, 'signed_out', t FROM users,
              unnest(ARRAY[${literal(at.toISOString())}, ${literal(longAgo.toISOString())}]::timestamptz[]) AS t
       WHERE email_normalized = ${literal(email.toLowerCase())}`);
  return { at, longAgo };
}

/** `t` as a clock `shift` minutes ahead of UTC shows it, named `zone`: "2026-12-06 13:08 UTC+5:30". */
function onClock(t: Date, shift: number, zone: string): string {
  const s = new Date(t.getTime() + shift * 60_000).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 16)} ${zone}`;
}

test('an event recorded without a device or address lists only what is known, and its download says unknown', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  const { at, longAgo } = twoSignOutsWithoutADevice(account.email);
  await gotoHydrated(page, SECURITY_PATH);
  const outs = region(page, 'Recent security activity').getByRole('listitem').filter({ hasText: 'Signed out' });
  const exact = (t: Date) => onClock(t, 0, 'UTC');
  await expect(outs.locator('.activity-meta')).toHaveText([`3 hours ago · ${exact(at)}`, exact(longAgo)]);
  const csv = parseCsv(await download(page, 'Download CSV'));
  const row = csv.find((r) => r[2] === 'Signed out');
  expect(row?.slice(3, 6)).toEqual(['Unknown browser on Unknown OS', 'Unknown', 'unknown']);
});

test.describe('on a clock five and a half hours ahead of UTC', () => {
  test.use({ timezoneId: 'Asia/Kolkata' });

  test('exact times are on the reader\'s own clock and name its offset; the server\'s page says them in UTC', async ({ page }) => {
    const account = newAccount();
    await signUpViaApi(page, account);
    const { at, longAgo } = twoSignOutsWithoutADevice(account.email);
    const utc = (t: Date) => onClock(t, 0, 'UTC');
    const here = (t: Date) => onClock(t, 330, 'UTC+5:30');

    // what the server writes (what a browser without JavaScript keeps): UTC, which it knows
    const html = await (await page.request.get(SECURITY_PATH, { headers: { Accept: 'text/html' } })).text();
    expect(html).toContain(utc(at));
    expect(html).not.toContain('UTC+5:30');

    await gotoHydrated(page, SECURITY_PATH);
    const section = region(page, 'Recent security activity');
    const outs = section.getByRole('listitem').filter({ hasText: 'Signed out' });
    await expect(outs.locator('.activity-meta')).toHaveText([`3 hours ago · ${here(at)}`, here(longAgo)]);
    // a relative time elsewhere on the page has the same exact time as its tooltip
    const signedIn = region(page, 'Sessions').getByRole('listitem').filter({ hasText: 'This device' }).locator('time').first();
    await expect(signedIn).toHaveAttribute('title', /^\d{4}-\d\d-\d\d \d\d:\d\d UTC\+5:30$/);

    // rows drawn in the browser (another filter) say the reader's clock from the start
    await section.getByLabel('Show').selectOption({ label: 'Sessions' });
    await expect(outs.locator('.activity-meta')).toHaveText([`3 hours ago · ${here(at)}`, here(longAgo)]);
  });

  test('a date past 30 days is the reader\'s own day, which at 20:00 UTC is already the next one', async ({ page }) => {
    const account = newAccount();
    await signUpViaApi(page, account);
    // 60 days ago at 20:00 UTC: 01:30 the next day at UTC+5:30
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 60 * 86_400_000;
    const changed = new Date(day + 20 * 3_600_000);
    sql(`UPDATE users SET password_changed_at = ${literal(changed.toISOString())} WHERE email_normalized = ${literal(account.email.toLowerCase())}`);
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const on = (t: Date) => `on ${t.getUTCDate()} ${months[t.getUTCMonth()]} ${t.getUTCFullYear()}`;
    const nextDay = new Date(day + 86_400_000);

    const html = await (await page.request.get(SECURITY_PATH, { headers: { Accept: 'text/html' } })).text();
    expect(html).toContain(`last changed <time datetime="${changed.toISOString().replace('.000Z', 'Z')}"`);
    expect(html).toContain(`>${on(changed)}<`);
    await gotoHydrated(page, SECURITY_PATH);
    const when = region(page, 'Password').locator('time');
    await expect(when).toHaveText(on(nextDay));
    await expect(when).toHaveAttribute('title', onClock(changed, 330, 'UTC+5:30'));
  });

  test('"This wasn\'t me" says when the sign-in was on the reader\'s own clock; the email said UTC', async ({ page, browser }) => {
    test.setTimeout(60_000);
    const account = await accountSignedInToElsewhere(page, browser);
    const alert = await waitForMail(account.email, ALERT_MAIL);
    const said = /When: (\d+) (\w+) (\d{4}) at (\d\d):(\d\d) UTC/.exec(alert.text);
    expect(said, alert.text).not.toBeNull();
    const [, d, month, y, h, m] = said!;
    const utc = new Date(`${d} ${month} ${y} ${h}:${m} UTC`);
    const shifted = new Date(utc.getTime() + 330 * 60_000);
    const fullMonths = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
    const two = (n: number) => String(n).padStart(2, '0');
    const here = `${shifted.getUTCDate()} ${fullMonths[shifted.getUTCMonth()]} ${shifted.getUTCFullYear()} at ${two(shifted.getUTCHours())}:${two(shifted.getUTCMinutes())} UTC+5:30`;

    await gotoHydrated(page, linkTo(alert, '/this-wasnt-me'));
    const main = page.getByRole('main');
    await expect(main.locator('dt:has-text("When") + dd')).toHaveText(here);
  });
});

test('a Show more that answers after another filter was chosen adds nothing to the new list', async ({ page }) => {
  const account = newAccount();
  await signUpViaApi(page, account);
  olderSignIns(account.email);
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Recent security activity');
  const rows = section.getByRole('listitem');
  await expect(rows).toHaveCount(20);
  // "Show more" (the older page of every kind) is held back until the filter has changed
  let held: (() => Promise<void>) | null = null;
  await page.route('**/api/security/activity*', async (route) => {
    if (/before=[^&]/.test(route.request().postData() ?? '')) {
      held = () => route.continue();
    } else {
      await route.continue();
    }
  });
  await section.getByRole('button', { name: 'Show more' }).click();
  await expect.poll(() => held !== null).toBe(true);
  await section.getByLabel('Show').selectOption({ label: 'Credential changes' });
  await expect(rows).toHaveCount(1);
  const answered = page.waitForResponse((r) => r.url().includes('/api/security/activity') && /before=[^&]/.test(r.request().postData() ?? ''));
  await held!();
  await answered;
  // let the answer be read and drawn (two frames), then the list is still the filter's one row
  await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('Created the account');
  await page.unroute('**/api/security/activity*');
});

test.describe('a filter whose page cannot be fetched', () => {
  // (the aborted request is logged by the browser; one pattern: a fixture option given as a
  // two-element array reads as a value and its options)
  test.use({ allowedConsoleErrors: [new RegExp(`${HTTP_4XX_LOG.source}|^Failed to load resource: net::ERR_FAILED$`)] });

  test('keeps the card with its filter and downloads, says so, and Try again fetches it', async ({ page }) => {
    await signUpViaApi(page, newAccount());
    await gotoHydrated(page, SECURITY_PATH);
    const section = region(page, 'Recent security activity');
    await page.route('**/api/security/activity*', (route) => route.abort());
    await section.getByLabel('Show').selectOption({ label: 'Credential changes' });
    await expect(section.getByRole('alert')).toHaveText("We couldn't reach Gatehouse. Check your connection and try again.");
    // (the whole card was replaced by that sentence, with no way back but a reload)
    await expect(section.getByLabel('Show')).toHaveValue('credentials');
    await expect(section.getByRole('link', { name: 'Download CSV' })).toBeVisible();
    await expect(section.getByText('No activity of this kind')).toHaveCount(0);
    await page.unroute('**/api/security/activity*');
    await section.getByRole('button', { name: 'Try again' }).click();
    await expect(section.getByRole('listitem')).toHaveCount(1);
    await expect(section.getByRole('listitem').first()).toContainText('Created the account');
    await expect(section.getByRole('alert')).toHaveCount(0);
    await expect(section.getByRole('button', { name: 'Try again' })).toHaveCount(0);
  });
});
