import type { Response } from '@playwright/test';
import {
  SECURITY_PATH,
  SITE_ORIGIN,
  BASE_URL,
  HTTP_4XX_LOG,
  accountNav,
  changePassword,
  checkA11y,
  expect,
  expectSecurityPage,
  gotoHydrated,
  holdOverviewReloads,
  newAccount,
  region,
  signInViaApi,
  signUpViaApi,
  test,
} from './fixtures';

async function expectSecurityHeaders(response: Response | null): Promise<Record<string, string>> {
  expect(response, 'navigation response').not.toBeNull();
  expect(response!.status()).toBe(200);
  // allHeaders() includes the security-related headers that headers() may omit.
  const headers = await response!.allHeaders();

  const csp = headers['content-security-policy'] ?? '';
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("'wasm-unsafe-eval'");
  expect(csp).toMatch(/'nonce-[A-Za-z0-9+/=_-]+'/);
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy'], 'referrer-policy header').toBeTruthy();
  return headers;
}

test.describe('security headers and cookies', () => {
  test('the sign-in page sends the security headers', async ({ page }) => {
    await expectSecurityHeaders(await page.goto('/sign-in'));
  });

  test('the signed-in page sends the security headers, no-store, and a locked-down session cookie', async ({
    page,
  }) => {
    await signUpViaApi(page, newAccount());
    const headers = await expectSecurityHeaders(await page.goto(SECURITY_PATH));
    expect(headers['cache-control'] ?? '').toContain('no-store');

    const cookies = (await page.context().cookies()).filter((cookie) => cookie.name.startsWith('__Host-'));
    // the session, and the device cookie that decides which throttle counts this browser's guesses
    expect(cookies.map((c) => c.name).sort()).toEqual(['__Host-gatehouse-device', '__Host-gatehouse-session']);
    const session = cookies.find((c) => c.name === '__Host-gatehouse-session')!;
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    const device = cookies.find((c) => c.name === '__Host-gatehouse-device')!;
    expect(device).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    for (const c of cookies) expect(c.domain, '__Host- cookies are host-only').not.toMatch(/^\./);
  });
});

test.describe('cross-site form posts are refused', () => {
  const form = { email: 'nobody@example.test', password: 'Correct-horse-cross-site-battery', return_to: '/' };

  test('a cross-site Origin gets 403', async ({ request }) => {
    const response = await request.post('/api/auth/sign-in', {
      form,
      headers: { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
      maxRedirects: 0,
    });
    expect(response.status()).toBe(403);
  });

  test('a post without Origin or Sec-Fetch-Site gets 403', async ({ request }) => {
    const response = await request.post('/api/auth/sign-in', { form, maxRedirects: 0 });
    expect(response.status()).toBe(403);
  });

  test('a same-origin post is not refused: it is checked (401, no such account)', async ({ request }) => {
    const response = await request.post('/api/auth/sign-in', {
      form,
      headers: { Origin: SITE_ORIGIN },
      maxRedirects: 0,
    });
    expect(response.status()).toBe(401);
  });
});

test.describe('security page layout', () => {
  test('the header shows the account and the breadcrumb shows where you are', async ({ page }) => {
    const account = newAccount();
    await signUpViaApi(page, account);
    await gotoHydrated(page, SECURITY_PATH);
    await expectSecurityPage(page);

    const nav = accountNav(page);
    await expect(nav).toContainText(account.email);
    await expect(nav.getByRole('button', { name: 'Sign out' })).toBeVisible();

    // Separators ("›") may be text or CSS-generated; accept either.
    await expect(page.getByRole('navigation', { name: 'Breadcrumb' })).toHaveText(
      /^\s*Settings\s*›?\s*Account\s*›?\s*Security & Access\s*$/,
    );
    // (no link to the page it is on)
    await expect(page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link')).toHaveCount(0);
  });

  test('API keys and authorized applications are marked "Coming soon"', async ({ page }) => {
    await signUpViaApi(page, newAccount());
    await gotoHydrated(page, SECURITY_PATH);

    await expect(region(page, 'Personal API keys')).toContainText('Coming soon');
    await expect(region(page, 'Authorized applications')).toContainText('Coming soon');
  });

  test('a page left open says again how long ago things were ("just now" becomes "7 minutes ago") and how long it stays verified', async ({ page }) => {
    // (the browser's clock, timers included, is Playwright's from here: it runs on at its own
    // pace until fast-forwarded)
    await page.clock.install();
    await signUpViaApi(page, newAccount());
    await gotoHydrated(page, SECURITY_PATH);
    const thisDevice = region(page, 'Sessions').getByRole('listitem').filter({ hasText: 'This device' });
    await expect(thisDevice.locator('time').first()).toHaveText('just now');
    const firstEntry = region(page, 'Recent security activity').getByRole('listitem').first();
    await expect(firstEntry.locator('time')).toHaveText('just now');

    await page.clock.fastForward('07:00');
    await expect(thisDevice.locator('time').first()).toHaveText('7 minutes ago');
    await expect(firstEntry.locator('time')).toHaveText('7 minutes ago');
    await expect(firstEntry.locator('.activity-meta')).toHaveText(/^7 minutes ago · \d{4}-\d\d-\d\d \d\d:\d\d UTC\S* · /);
    // the re-verification window counts down by the clock too, not by its timer's ticks (one
    // tick came in those seven minutes, as after the computer slept)
    await expect(page.locator('.verified-banner strong')).toHaveText('Verified for 3 more minutes.');

    // past 30 days it is a date: the session's day, and the activity row's exact time said once
    await page.clock.fastForward(31 * 24 * 60 * 60 * 1000);
    await expect(thisDevice.locator('time').first()).toHaveText(/^on \d{1,2} [A-Z][a-z]{2} \d{4}$/);
    await expect(firstEntry.locator('.activity-meta')).toHaveText(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC\S* · /);
    await expect(page.locator('.verified-banner')).toHaveCount(0);
  });
});

test.describe('keyboard', () => {
  test('Tab reaches the skip link first, then Email, Password and Sign in', async ({ page }) => {
    await gotoHydrated(page, '/sign-in');

    await page.keyboard.press('Tab');
    await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();

    const stops = [
      { name: 'Email', locator: page.getByLabel('Email', { exact: true }) },
      { name: 'Password', locator: page.getByLabel('Password', { exact: true }) },
      { name: 'Sign in', locator: page.getByRole('button', { name: 'Sign in', exact: true }) },
    ];
    // Other focusable elements (e.g. the "Gatehouse" header link) may come in
    // between; the form controls must be reached in this order.
    const reached: string[] = [];
    for (let presses = 0; presses < 15 && reached.length < stops.length; presses++) {
      await page.keyboard.press('Tab');
      for (const stop of stops) {
        if (await stop.locator.evaluate((element) => element === document.activeElement)) reached.push(stop.name);
      }
    }
    expect(reached).toEqual(stops.map((stop) => stop.name));
  });

  test('the skip link moves focus to the main content', async ({ page }) => {
    await gotoHydrated(page, '/sign-in');

    await page.keyboard.press('Tab');
    await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    await expect(page.getByLabel('Email', { exact: true })).toBeFocused();
  });

  test('Enter before the page is interactive sends nothing: the password never reaches the address bar', async ({ page }) => {
    // the bundle is never answered (as on a slow link), so the page stays as the server rendered it
    await page.route('**/*.wasm', () => {});
    await page.goto('/sign-in');
    await page.getByLabel('Email', { exact: true }).fill('someone@example.test');
    await page.getByLabel('Password', { exact: true }).fill('a password typed early');
    await page.getByLabel('Password', { exact: true }).press('Enter');
    // (a browser submission would navigate at once, to /sign-in?email=…&password=…)
    await page.waitForTimeout(500);
    expect(new URL(page.url()).search).toBe('');
    await expect(page.getByLabel('Password', { exact: true })).toHaveValue('a password typed early');
  });

  test('on a phone, the exact time a focused time shows stays on the screen', async ({ page }) => {
    await page.setViewportSize({ width: 360, height: 740 });
    await signUpViaApi(page, newAccount());
    await gotoHydrated(page, SECURITY_PATH);
    const times = page.locator('time[data-exact]');
    // the password's change and the session's sign-in (the activity's rows say their exact time
    // on the line)
    expect(await times.count()).toBeGreaterThanOrEqual(2);
    for (const time of await times.all()) {
      await time.focus();
      const shown = await time.evaluate((el) => ({
        exact: el.getAttribute('data-exact'),
        after: getComputedStyle(el, '::after').content,
        pageWidth: document.documentElement.scrollWidth,
      }));
      expect(shown.after).toBe(`" (${shown.exact})"`);
      // (a tooltip running off the right edge made the page 388 to 428 px wide)
      expect(shown.pageWidth).toBe(360);
    }
  });

  test('the sign-in form submits with Enter', async ({ page, request }) => {
    const account = newAccount();
    await signUpViaApi(request, account);
    await gotoHydrated(page, '/sign-in');

    await page.getByLabel('Email', { exact: true }).fill(account.email);
    await page.getByLabel('Password', { exact: true }).fill(account.password);
    await page.getByLabel('Password', { exact: true }).press('Enter');
    await expectSecurityPage(page);
  });
});

const viewports = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 360, height: 740 },
};

for (const [device, viewport] of Object.entries(viewports)) {
  test.describe(`axe on ${device} (${viewport.width}x${viewport.height})`, () => {
    test.use({ viewport });

    for (const path of ['/sign-in', '/sign-up', '/previews']) {
      test(`${path} has no violations`, async ({ page }) => {
        // every component in every state: axe takes about 10 s on 2 idle cores, and 40-50 s beside
        // the suite's other three workers (checkA11y; 120-125 s before it ran as one axe.run)
        if (path === '/previews') test.setTimeout(150_000);
        await gotoHydrated(page, path);
        await checkA11y(page);
      });
    }

    test(`${SECURITY_PATH} (signed in) has no violations`, async ({ page }) => {
      await signUpViaApi(page, newAccount());
      await gotoHydrated(page, SECURITY_PATH);
      await expectSecurityPage(page);
      await checkA11y(page);
    });
  });
}

test('with the keyboard: Escape closes the password, set-up and new-passkey forms, and the keyboard goes back to the button that opened each', async ({ page }) => {
  await signUpViaApi(page, newAccount());
  await gotoHydrated(page, SECURITY_PATH);

  const password = region(page, 'Password');
  await password.getByRole('button', { name: 'Change password' }).click();
  await expect(password.getByLabel('Current password', { exact: true })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(password.getByLabel('Current password', { exact: true })).toHaveCount(0);
  await expect(password.getByRole('button', { name: 'Change password' })).toBeFocused();

  const twoStep = region(page, 'Two-step verification');
  const setUp = twoStep.getByRole('group', { name: 'Set up an authenticator app' });
  await twoStep.getByRole('button', { name: 'Set up authenticator app' }).click();
  await expect(setUp).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(setUp).toHaveCount(0);
  await expect(twoStep.getByRole('button', { name: 'Set up authenticator app' })).toBeFocused();
  // Cancel from the keyboard: the same (its button leaves the page with the set-up)
  await twoStep.getByRole('button', { name: 'Set up authenticator app' }).click();
  await twoStep.getByRole('button', { name: 'Cancel' }).focus();
  await page.keyboard.press('Enter');
  await expect(setUp).toHaveCount(0);
  await expect(twoStep.getByRole('button', { name: 'Set up authenticator app' })).toBeFocused();

  const passkeys = region(page, 'Passkeys');
  await passkeys.getByRole('button', { name: 'New passkey' }).click();
  await passkeys.getByLabel('Name (optional)').focus();
  await page.keyboard.press('Escape');
  await expect(passkeys.getByLabel('Name (optional)')).toHaveCount(0);
  await expect(passkeys.getByRole('button', { name: 'New passkey' })).toBeFocused();

  // with one session, the question counts none
  const sessions = region(page, 'Sessions');
  await sessions.getByRole('button', { name: 'Sign out everywhere' }).click();
  await expect(sessions.getByRole('group', { name: 'Sign out of this session, your only one?' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(sessions.getByRole('button', { name: 'Sign out everywhere' })).toBeFocused();
});

test.describe('a change redraws only its own section', () => {
  // (the aborted reload is logged by the browser)
  test.use({ allowedConsoleErrors: [new RegExp(`${HTTP_4XX_LOG.source}|^Failed to load resource: net::ERR_FAILED$`)] });

  test("another section's sentence is not drawn again (a screen reader would read it out again), and what was typed elsewhere stays", async ({ page }) => {
    const account = newAccount();
    await signUpViaApi(page, account);
    await gotoHydrated(page, SECURITY_PATH);
    await changePassword(page, account.password, 'seven purple tractors at dawn');
    const said = region(page, 'Password').getByRole('status');
    await expect(said).toHaveText('Password changed. Your other sessions were signed out.');
    // marked in the page: an element drawn again would be a new one, without the mark
    await said.evaluate((el) => el.setAttribute('data-test-drawn', 'once'));
    const twoStep = region(page, 'Two-step verification');
    await twoStep.getByRole('button', { name: 'Set up authenticator app' }).click();
    await twoStep.getByLabel('Code from the app').fill('123');

    await page.locator('.verified-banner').getByRole('button', { name: 'End now' }).click();
    await expect(page.getByText('Verification ended. Sensitive changes will ask you to confirm it')).toBeFocused();
    await expect(said).toHaveAttribute('data-test-drawn', 'once');
    // what was being typed elsewhere stays
    await expect(twoStep.getByLabel('Code from the app')).toHaveValue('123');

  });

  test('a reload that fails after a change keeps the page, says it may be out of date, and Try again reads it again', async ({ page }) => {
    await signUpViaApi(page, newAccount());
    await gotoHydrated(page, SECURITY_PATH);
    await page.route('**/api/security/overview*', (route) => route.abort());
    await page.locator('.verified-banner').getByRole('button', { name: 'End now' }).click();
    await expect(page.getByRole('alert')).toHaveText(
      "We couldn't reach Gatehouse. Check your connection and try again. What you see below may be out of date.Try again",
    );
    // (the whole page was replaced by that sentence)
    await expect(region(page, 'Password')).toBeVisible();
    await expect(region(page, 'Sessions').getByRole('listitem')).toHaveCount(1);
    // Try again that fails again says so again: its sentence is put in the alert anew (a screen
    // reader reads it), and the keyboard stays on the button
    const sentence = page.getByRole('alert').getByText('What you see below may be out of date.');
    await sentence.evaluate((el) => el.setAttribute('data-test-drawn', 'once'));
    await page.getByRole('alert').getByRole('button', { name: 'Try again' }).click();
    await expect(sentence).not.toHaveAttribute('data-test-drawn', 'once');
    await expect(page.getByRole('alert').getByRole('button', { name: 'Try again' })).toBeFocused();
    await expect(page.getByRole('alert').getByRole('button', { name: 'Try again' })).not.toHaveAttribute('aria-disabled');
    await page.unroute('**/api/security/overview*');
    await page.getByRole('alert').getByRole('button', { name: 'Try again' }).click();
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect(page.getByText('Verification ended. Sensitive changes will ask you to confirm it')).toBeVisible();
    await expect(page.locator('.verified-banner')).toHaveCount(0);
  });

  test('what the page draws while "Confirm it\'s you" is open is inert like the rest of the page', async ({ page, browser }) => {
    const account = newAccount();
    await signUpViaApi(page, account);
    const other = await browser.newContext({ baseURL: BASE_URL });
    try {
      await signInViaApi(await other.newPage(), account.email, account.password);
      await gotoHydrated(page, SECURITY_PATH);
      // End now's reload is held back until the dialog is open
      const letGo = await holdOverviewReloads(page);
      await page.locator('.verified-banner').getByRole('button', { name: 'End now' }).click();
      await region(page, 'Sessions').getByRole('button', { name: 'Revoke all others' }).click();
      await page.getByRole('group', { name: 'Sign out of 1 other session?' }).getByRole('button', { name: 'Revoke 1 session' }).click();
      const dialog = page.getByRole('dialog', { name: "Confirm it's you" });
      await expect(dialog.getByLabel('Your password')).toBeFocused();
      letGo();
      const ended = page.getByText('Verification ended. Sensitive changes will ask you to confirm it');
      await expect(ended).toBeAttached();
      expect(await ended.evaluate((el) => el.closest('[inert]') !== null)).toBe(true);
      await expect(dialog.getByLabel('Your password')).toBeFocused();
      await page.keyboard.press('Escape');
      await expect(dialog).toHaveCount(0);
      expect(await ended.evaluate((el) => el.closest('[inert]') === null)).toBe(true);
      await page.unroute('**/api/security/overview*');
    } finally {
      await other.close();
    }
  });
});
