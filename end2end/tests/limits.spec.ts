/**
 * Anti-automation as a person meets it: too many attempts from one address make the sign-in page
 * say how long to wait; after that wait the right password works, and other addresses were never
 * affected. The limits run at their production values: each test is its own client address
 * (see `clientAddress` in fixtures.ts).
 */
import {
  BASE_URL,
  HTTP_4XX_LOG,
  SAME_ORIGIN_HEADERS,
  SECURITY_PATH,
  alertOf,
  expect,
  expectSecurityPage,
  gotoHydrated,
  newAccount,
  signUpViaApi,
  strongPassword,
  test,
  uniqueEmail,
} from './fixtures';
import { request as apiRequest } from '@playwright/test';

const TOO_MANY = /^Too many attempts from your network\. Wait (\d+) seconds?, then try again\.$/;

test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] });

test('after too many attempts from one address the sign-in page says how long to wait, and then lets you in', async ({ page, request }) => {
  test.slow(); // each attempt hashes a password, and the test waits out the limit
  const account = newAccount();
  await signUpViaApi(request, account); // from this test's address too; the page stays signed out

  // a person mistyping on the sign-in page…
  await gotoHydrated(page, '/sign-in');
  await page.getByLabel('Email', { exact: true }).fill(account.email);
  await page.getByLabel('Password', { exact: true }).fill(strongPassword());

  // …from an address that has just spent its budget (on unknown accounts, so no account's own
  // throttle is involved)
  let limited = null;
  for (let attempt = 0; attempt < 60 && !limited; attempt++) {
    const response = await page.request.post('/api/auth/sign-in', {
      form: { email: uniqueEmail(), password: strongPassword() },
      headers: SAME_ORIGIN_HEADERS,
      maxRedirects: 0,
    });
    if (response.status() === 429) {
      limited = response;
    } else {
      expect(response.status(), await response.text()).toBe(401);
    }
  }
  expect(limited, 'the address should have run out of attempts').not.toBeNull();
  expect(limited!.headers()['retry-after']).toMatch(/^\d+$/);
  expect(await limited!.json()).toEqual({ RateLimited: { retry_after_seconds: Number(limited!.headers()['retry-after']) } });

  // the page shows the sentence in its error area (an attempt regained meanwhile is spent by a
  // first click, which says the password is wrong)
  const signIn = page.getByRole('button', { name: 'Sign in', exact: true });
  await expect(async () => {
    await signIn.click();
    await expect(alertOf(page)).toHaveText(TOO_MANY, { timeout: 3_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page).toHaveURL((url) => url.pathname === '/sign-in');
  const seconds = Number(TOO_MANY.exec((await alertOf(page).textContent()) ?? '')![1]);
  expect(seconds).toBeGreaterThanOrEqual(1);

  // another address is not affected
  const elsewhere = await apiRequest.newContext({ baseURL: BASE_URL, extraHTTPHeaders: { 'X-Forwarded-For': '192.0.2.77' } });
  try {
    const response = await elsewhere.post('/api/auth/sign-in', {
      form: { email: account.email, password: account.password, return_to: SECURITY_PATH },
      headers: SAME_ORIGIN_HEADERS,
      maxRedirects: 0,
    });
    expect(response.ok(), await response.text()).toBe(true);
  } finally {
    await elsewhere.dispose();
  }

  // doing what the sentence says works
  await page.waitForTimeout(seconds * 1_000 + 500);
  await page.getByLabel('Password', { exact: true }).fill(account.password);
  await signIn.click();
  await expectSecurityPage(page);
});
