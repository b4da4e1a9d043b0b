/**
 * Shared fixtures and helpers for the Gatehouse end-to-end suite.
 *
 * Import `test` and `expect` from here (not from @playwright/test) so every
 * test fails on uncaught page errors and on `console.error` output.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import AxeBuilder from '@axe-core/playwright';
import * as OTPAuth from 'otpauth';
import {
  test as base,
  expect,
  request as apiRequest,
  type APIRequestContext,
  type APIResponse,
  type CDPSession,
  type Page,
  type Response,
} from '@playwright/test';
import { BASE_URL, MAIL_URL, SITE_ORIGIN } from '../base-url';

export { expect, BASE_URL, MAIL_URL, SITE_ORIGIN };

/** Landing page after signing in or up when no (valid) return_to is given. */
export const SECURITY_PATH = '/settings/security';

/** The exact alert text for any failed sign-in. */
export const BAD_CREDENTIALS = 'Incorrect email or password.';

/**
 * Chromium logs every 4xx/5xx response (including fetches made by the app) as a
 * console error "Failed to load resource: the server responded with a status of
 * 401 (Unauthorized)". Tests that deliberately provoke a rejected request
 * (wrong password, used link, ...) allow 4xx ones with
 * `test.use({ allowedConsoleErrors: [HTTP_4XX_LOG] })`. 5xx is never allowed.
 */
export const HTTP_4XX_LOG = /^Failed to load resource: the server responded with a status of 4\d\d\b/;

type Fixtures = {
  /** Console error texts matching any of these do not fail the test. */
  allowedConsoleErrors: RegExp[];
  /**
   * The client address of this test: every browser and request context the test opens sends it
   * as `X-Forwarded-For` (scripts/e2e-server.sh trusts 127.0.0.1 as a proxy), so each test is its
   * own client for the server's per-address rate limits, which run at their production values.
   */
  clientAddress: string;
};

let addressesHandedOut = 0;

/**
 * A fresh address from 198.18.0.0/15 (reserved for benchmarking, RFC 2544: no geo-IP database
 * places it, so sessions show "Unknown"): 4096 per worker, 32 workers.
 */
function nextClientAddress(workerIndex: number): string {
  addressesHandedOut = (addressesHandedOut % 4095) + 1;
  const n = ((workerIndex % 32) << 12) | addressesHandedOut;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * Starts collecting uncaught exceptions and `console.error` messages of `page`.
 * The returned array fills up as they happen; assert it is empty at the end.
 * The `page` fixture does this itself; use it for pages you create yourself.
 */
export function trackPageErrors(page: Page, allowed: readonly RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => {
    errors.push(`pageerror: ${error.message}`);
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const text = message.text();
    if (allowed.some((pattern) => pattern.test(text))) return;
    const { url } = message.location();
    errors.push(`console.error: ${text}${url ? ` (${url})` : ''}`);
  });
  return errors;
}

export const test = base.extend<Fixtures>({
  allowedConsoleErrors: [[], { option: true }],

  clientAddress: async ({}, use, testInfo) => {
    await use(nextClientAddress(testInfo.workerIndex));
  },

  // Playwright applies these headers to every context created during the test, including
  // browser.newContext() and request.newContext() called by the test itself.
  extraHTTPHeaders: async ({ extraHTTPHeaders, clientAddress }, use) => {
    await use({ ...extraHTTPHeaders, 'X-Forwarded-For': clientAddress });
  },

  page: async ({ page, allowedConsoleErrors }, use) => {
    const errors = trackPageErrors(page, allowedConsoleErrors);
    await use(page);
    expect(errors, 'page errors / console errors during the test').toEqual([]);
  },
});

// ---------------------------------------------------------------------------
// Test data
// ---------------------------------------------------------------------------

function randomToken(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}

/** A fresh address for every call, so parallel tests never collide. */
export function uniqueEmail(): string {
  return `e2e-${Date.now()}-${randomToken()}@example.test`;
}

/** A password that satisfies the policy (at least 15 characters). */
export function strongPassword(): string {
  return `Correct-horse-${randomToken()}-battery`;
}

export type Account = {
  email: string;
  password: string;
  displayName?: string;
};

/** A new, not yet registered account. */
export function newAccount(displayName?: string): Account {
  return { email: uniqueEmail(), password: strongPassword(), displayName };
}

// ---------------------------------------------------------------------------
// Navigation
// ---------------------------------------------------------------------------

/**
 * Waits until the current document has hydrated (the app sets
 * `data-hydrated` on <html>). Always do this before interacting with a page
 * that was loaded by a full navigation.
 */
export async function waitForHydration(page: Page): Promise<void> {
  await page.locator('html[data-hydrated]').waitFor({ state: 'attached' });
}

/** `page.goto(path)` followed by waiting for hydration. */
export async function gotoHydrated(page: Page, path: string): Promise<Response | null> {
  const response = await page.goto(path);
  await waitForHydration(page);
  return response;
}

/** Waits until the page is at `pathname` (query string and hash ignored). */
export async function expectPathname(page: Page, pathname: string): Promise<void> {
  await expect(page).toHaveURL((url) => url.pathname === pathname);
}

/** Waits for the signed-in landing page and for it to hydrate. */
export async function expectSecurityPage(page: Page): Promise<void> {
  await expectPathname(page, SECURITY_PATH);
  await expect(page.getByRole('heading', { level: 1, name: 'Security & Access' })).toBeVisible();
  await waitForHydration(page);
}

// ---------------------------------------------------------------------------
// Auth through the HTTP API
// ---------------------------------------------------------------------------

type RequestTarget = Page | APIRequestContext;

function requestContextOf(target: RequestTarget): APIRequestContext {
  return 'request' in target ? target.request : target;
}

/** Headers a same-origin browser form post would carry. */
export const SAME_ORIGIN_HEADERS = { Origin: SITE_ORIGIN } as const;

async function describeResponse(response: APIResponse): Promise<string> {
  const body = await response.text().catch(() => '<unreadable body>');
  return `${response.status()} ${response.url()}\n${body.slice(0, 2_000)}`;
}

/** The subject of the email whose link finishes a sign-up for a new address. */
export const SIGN_UP_MAIL = 'Finish creating your Gatehouse account';

/** The subject of the email an address that already has an account gets instead. */
export const ACCOUNT_EXISTS_MAIL = 'Someone tried to create a Gatehouse account with your email';

/** The answer of the sign-up page after "Continue", for a new address and an existing one alike. */
export const CHECK_INBOX = 'Check your inbox to finish creating your account.';

/**
 * Creates an account the way a person does, through the API: a form POST to /api/auth/sign-up
 * (email, display name), the "Finish creating your Gatehouse account" email from the mail
 * catcher, then a form POST of its link's token and the password to /api/auth/sign-up/finish.
 * `account.email` must not have an account yet (an existing one gets a different email, and this
 * fails waiting for the link).
 *
 * With a Page, the requests go through `page.request`, which shares the browser context's
 * cookies, so the page is signed in afterwards. With an APIRequestContext (e.g. the `request`
 * fixture) the browser stays signed out.
 */
export async function signUpViaApi(target: RequestTarget, account: Account): Promise<void> {
  const context = requestContextOf(target);
  const before = (await mailsTo(account.email)).length;
  const response = await context.post('/api/auth/sign-up', {
    form: { email: account.email, display_name: account.displayName ?? '' },
    headers: SAME_ORIGIN_HEADERS,
  });
  expect(response.ok(), `sign-up via API failed: ${await describeResponse(response)}`).toBe(true);
  const mail = await waitForMail(account.email, SIGN_UP_MAIL, { after: before });
  const token = new URL(linkTo(mail, '/sign-up/finish')).searchParams.get('token');
  expect(token, `the sign-up link has no token: ${linkTo(mail, '/sign-up/finish')}`).toBeTruthy();
  const finish = await context.post('/api/auth/sign-up/finish', {
    form: { token: token!, password: account.password },
    headers: SAME_ORIGIN_HEADERS,
  });
  expect(finish.ok(), `finishing the sign-up via API failed: ${await describeResponse(finish)}`).toBe(true);
}

/** Signs in with a form POST to /api/auth/sign-in; see signUpViaApi for `target`. */
export async function signInViaApi(target: RequestTarget, email: string, password: string): Promise<void> {
  const response = await requestContextOf(target).post('/api/auth/sign-in', {
    form: { email, password, return_to: SECURITY_PATH },
    headers: SAME_ORIGIN_HEADERS,
  });
  expect(response.ok(), `sign-in via API failed: ${await describeResponse(response)}`).toBe(true);
}

/**
 * Whether `email` + `password` currently open a session, checked in a fresh,
 * isolated request context (no browser involved): sign in, then see whether
 * the security page is served (200) instead of a redirect to /sign-in.
 */
export async function canSignIn(email: string, password: string): Promise<boolean> {
  const context = await apiRequest.newContext({ baseURL: BASE_URL });
  try {
    await context.post('/api/auth/sign-in', {
      form: { email, password, return_to: SECURITY_PATH },
      headers: SAME_ORIGIN_HEADERS,
      maxRedirects: 0,
    });
    const page = await context.get(SECURITY_PATH, { maxRedirects: 0 });
    return page.status() === 200;
  } finally {
    await context.dispose();
  }
}

// ---------------------------------------------------------------------------
// Auth through the UI
// ---------------------------------------------------------------------------

/**
 * Fills and submits the sign-up form at /sign-up (email, display name, "Continue") and expects
 * the "Check your inbox" answer.
 */
export async function requestSignUpViaUi(page: Page, account: Pick<Account, 'email' | 'displayName'>): Promise<void> {
  await gotoHydrated(page, '/sign-up');
  await page.getByLabel('Email', { exact: true }).fill(account.email);
  await page.getByLabel('Display name (optional)', { exact: true }).fill(account.displayName ?? '');
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: CHECK_INBOX })).toBeVisible();
}

/**
 * Creates an account the way a person does, in the browser: requestSignUpViaUi, then opens the
 * link of the "Finish creating your Gatehouse account" email, fills "Password" and clicks
 * "Create account". Does not wait for the result (on success the page signs in and goes to
 * Security & Access). `account.email` must not have an account yet.
 */
export async function signUpViaUi(page: Page, account: Account): Promise<void> {
  const before = (await mailsTo(account.email)).length;
  await requestSignUpViaUi(page, account);
  const mail = await waitForMail(account.email, SIGN_UP_MAIL, { after: before });
  await page.goto(linkTo(mail, '/sign-up/finish'));
  await waitForHydration(page);
  await page.getByLabel('Password', { exact: true }).fill(account.password);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
}

/**
 * Fills and submits the sign-in form on the current page (which must be a
 * sign-in page). Does not wait for the result.
 */
export async function submitSignInForm(page: Page, email: string, password: string): Promise<void> {
  await waitForHydration(page);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/**
 * Opens the sign-in page (`path` may carry a `?return_to=`), then fills and
 * submits the form. Does not wait for the result.
 */
export async function signInViaUi(page: Page, email: string, password: string, path = '/sign-in'): Promise<void> {
  await gotoHydrated(page, path);
  await submitSignInForm(page, email, password);
}

/** The alert shown for a failed sign-in, sign-up or link form. */
export function alertOf(page: Page) {
  return page.getByRole('alert');
}

// ---------------------------------------------------------------------------
// Security page
// ---------------------------------------------------------------------------

export function region(page: Page, name: string) {
  return page.getByRole('region', { name, exact: true });
}

/** The signed-in "Account" navigation in the site header. */
export function accountNav(page: Page) {
  return page.getByRole('navigation', { name: 'Account', exact: true });
}

/**
 * Holds back Security & Access's reloads of its settings (after each change) until the function
 * it returns is called; they go through then (call `page.unroute` to stop holding later ones).
 */
export async function holdOverviewReloads(page: Page): Promise<() => void> {
  let letGo = () => {};
  const held = new Promise<void>((resolve) => (letGo = resolve));
  await page.route('**/api/security/overview*', async (route) => {
    await held;
    await route.continue();
  });
  return letGo;
}

/**
 * Changes the password from the Password section of /settings/security (the
 * page must be open and hydrated) and waits for the success status, and for the
 * section drawn again from the page's reload after the change (its "last changed"
 * time is the new one): what a test then marks in it stays marked.
 */
export async function changePassword(page: Page, current: string, next: string): Promise<void> {
  const section = region(page, 'Password');
  const changedAt = section.locator('time');
  await expect(changedAt, 'the Password section says when it was last changed').toHaveCount(1);
  const before = await changedAt.getAttribute('datetime');
  await section.getByRole('button', { name: 'Change password' }).click();
  await section.getByLabel('Current password', { exact: true }).fill(current);
  await section.getByLabel('New password', { exact: true }).fill(next);
  await section.getByRole('button', { name: 'Update password' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Password changed' })).toBeVisible();
  await expect(changedAt).not.toHaveAttribute('datetime', before ?? '');
}

/**
 * Turns on two-step verification with an authenticator app from Security & Access (opens the
 * page), saving the backup codes; answers the app (`totp.generate()` gives the current code).
 */
export async function turnOnAuthenticator(page: Page): Promise<OTPAuth.TOTP> {
  await gotoHydrated(page, SECURITY_PATH);
  const section = region(page, 'Two-step verification');
  await section.getByRole('button', { name: 'Set up authenticator app' }).click();
  const key = (await section.getByTestId('manual-key').textContent()) ?? '';
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key.replaceAll(' ', '')), digits: 6, period: 30, algorithm: 'SHA1' });
  await section.getByLabel('Code from the app').fill(totp.generate());
  await section.getByRole('button', { name: 'Turn on' }).click();
  const panel = section.getByRole('group', { name: 'Your backup codes' });
  await panel.getByLabel('I have saved these codes').check();
  await panel.getByRole('button', { name: 'Done' }).click();
  await expect(section).toContainText('Authenticator app: on');
  return totp;
}

// ---------------------------------------------------------------------------
// Accessibility
// ---------------------------------------------------------------------------

/**
 * Runs axe on the current page and fails listing every violation found.
 *
 * Only violations are gathered in full (`resultTypes`: passes and the rest are not listed node by
 * node), and axe runs as one `axe.run` that reaches the page's frames itself (`setLegacyMode`:
 * same-origin frames only, as every frame here is, the email previews included) instead of a run
 * in each frame finished in a blank page. On /previews (7,700 elements, 18 frames) that is 10 s
 * instead of 27 s on 2 idle cores, with the same violations found: a faint line added to the page
 * and an image without alt added inside an email's frame were both reported either way.
 */
export async function checkA11y(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).setLegacyMode(true).options({ resultTypes: ['violations'] }).analyze();
  const violations = results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    targets: violation.nodes.map((node) => JSON.stringify(node.target)),
  }));
  expect(violations, `axe violations on ${page.url()}`).toEqual([]);
}

// ---------------------------------------------------------------------------
// Direct database access (states the UI cannot create yet)
// ---------------------------------------------------------------------------

/**
 * Runs one SQL statement against this run's end-to-end database (scripts/test.sh sets
 * E2E_DATABASE and PGPORT). Only for states no page can create yet, such as an account that
 * signed up with Google and has no password, or a re-verification window that has run out.
 */
export function sql(statement: string): string {
  const database = process.env.E2E_DATABASE;
  const port = process.env.PGPORT;
  if (!database || !port) throw new Error('E2E_DATABASE and PGPORT must be set (scripts/test.sh sets them)');
  return execFileSync('psql', ['-qtA', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', port, '-U', 'gatehouse', '-d', database, '-c', statement], {
    encoding: 'utf8',
  }).trim();
}

/**
 * Ends the re-verification window of every session of `email` (out of band, in Postgres), so the
 * next sensitive change asks "Confirm it's you" first, and waits until the server `page` talks to
 * has heard: Postgres announces the change and each instance forgets the sessions it kept, within
 * milliseconds but not before a request that follows at once.
 */
export async function endVerificationWindow(page: Page, email: string): Promise<void> {
  sql(`UPDATE sessions SET verified_at = now() - interval '11 minutes'
       WHERE user_id = (SELECT id FROM users WHERE email_normalized = ${literal(email)})`);
  await expect
    .poll(async () => {
      const response = await page.request.post('/api/security/overview', { headers: SAME_ORIGIN_HEADERS });
      return ((await response.json()) as { verification?: { seconds_left?: number } }).verification?.seconds_left;
    })
    .toBe(0);
}

/** Quotes a value for `sql`. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

// ---------------------------------------------------------------------------
// Mail (the local mail catcher, tools/mail: Playwright starts it, scripts/e2e-server.sh points
// the server's SMTP at it)
// ---------------------------------------------------------------------------

/** One message the catcher caught, as its JSON API (`${MAIL_URL}/api/messages`) gives it. */
export type Mail = {
  /** The catcher's own id: `${MAIL_URL}/messages/${id}` shows the message. */
  id: string;
  /** The Message-ID header, angle brackets included, or null if it has none. */
  messageId: string | null;
  /** The From header as sent (encoded words decoded), e.g. `Gatehouse <no-reply@gatehouse.localhost>`. */
  from: string;
  /** The envelope recipients (RCPT TO) as the server sent them: Bcc ones too. */
  to: string[];
  subject: string;
  /** The Date header (ISO 8601), or when the catcher received it if it has none. */
  date: string;
  /** When the catcher received it (ISO 8601). */
  receivedAt: string;
  /** The plain-text part ('' if none). */
  text: string;
  /** The HTML part, or null if none. */
  html: string | null;
  /** Every header by lowercased name; one sent more than once has its values joined by newlines. */
  headers: Record<string, string>;
};

async function mailApi(path: string): Promise<globalThis.Response> {
  try {
    return await fetch(`${MAIL_URL}${path}`, { signal: AbortSignal.timeout(5_000) });
  } catch (error) {
    throw new Error(`the local mail catcher at ${MAIL_URL} did not answer (${(error as Error).message}): Playwright starts it (scripts/mail.sh serve)`);
  }
}

/** Every message the catcher holds for `to` (any recipient, case-insensitive), newest first. */
export async function mailsTo(to: string): Promise<Mail[]> {
  const response = await mailApi(`/api/messages?to=${encodeURIComponent(to)}`);
  if (!response.ok) throw new Error(`${MAIL_URL}/api/messages answered ${response.status}`);
  return (await response.json()) as Mail[];
}

/**
 * Waits (polling every 100 ms, 10 s by default) for a message to `to` whose subject equals
 * `subject` (a string) or matches it (a RegExp), and returns the oldest such one. `after` skips
 * the first (oldest) that many messages to `to`, whatever their subject: pass
 * `(await mailsTo(to)).length` taken before the action that sends, to wait for a new one.
 * Fails listing what did arrive for `to`.
 */
export async function waitForMail(
  to: string,
  subject: string | RegExp,
  opts: { after?: number; timeout?: number } = {},
): Promise<Mail> {
  const { after = 0, timeout = 10_000 } = opts;
  const matches = (mail: Mail) => {
    if (typeof subject === 'string') return mail.subject === subject;
    subject.lastIndex = 0;
    return subject.test(mail.subject);
  };
  const deadline = Date.now() + timeout;
  for (;;) {
    const mails = (await mailsTo(to)).reverse(); // oldest first
    const found = mails.slice(after).find(matches);
    if (found) return found;
    if (Date.now() >= deadline) {
      const arrived = mails.map((mail, i) =>
        `  ${i < after ? '(skipped) ' : ''}${mail.receivedAt} ${JSON.stringify(mail.subject)} from ${mail.from}`);
      throw new Error(
        `no email to ${to} with subject ${typeof subject === 'string' ? JSON.stringify(subject) : subject} ` +
          `arrived within ${timeout} ms${after ? ` (after the first ${after})` : ''}; ` +
          (arrived.length ? `what did arrive for ${to}, oldest first:\n${arrived.join('\n')}` : `nothing arrived for ${to}`) +
          ` (all mail: ${MAIL_URL})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The absolute http(s) URLs in the message's plain-text part, in order, each once (sentence
 * punctuation after a URL is not part of it).
 */
export function linksIn(mail: Mail): string[] {
  const links = (mail.text.match(/https?:\/\/[^\s<>"'`]+/g) ?? []).map((url) => url.replace(/[.,;:!?)\]}]+$/, ''));
  return [...new Set(links)];
}

/** The one link in the message's plain-text part whose URL path is `pathname` (e.g. '/reset-password'). */
export function linkTo(mail: Mail, pathname: string): string {
  const links = linksIn(mail);
  const found = links.filter((link) => new URL(link).pathname === pathname);
  if (found.length !== 1) {
    throw new Error(
      `expected one link to ${pathname} in the email ${JSON.stringify(mail.subject)} to ${mail.to.join(', ')}, found ${found.length}; ` +
        `its links: ${links.length ? links.join(' ') : 'none'}`,
    );
  }
  return found[0];
}

// ---------------------------------------------------------------------------------------------
// Passkeys: Chromium's virtual authenticators (CDP WebAuthn domain)
// ---------------------------------------------------------------------------------------------

export interface Authenticator {
  cdp: CDPSession;
  id: string;
}

/** A platform authenticator like a phone's or laptop's: resident keys, user verification. */
export async function addAuthenticator(page: Page, synced = false): Promise<Authenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      defaultBackupEligibility: synced,
      defaultBackupState: synced,
    },
  });
  return { cdp, id: authenticatorId };
}

/**
 * Chromium's virtual authenticators answer an autofill (conditional) request at once, as if the
 * person had picked the passkey from the email field's suggestions. Tests of the button turn
 * autofill off, as in a browser without it.
 */
export async function withoutAutofill(page: Page): Promise<void> {
  await page.addInitScript(() => {
    if (window.PublicKeyCredential) {
      window.PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    }
  });
}
