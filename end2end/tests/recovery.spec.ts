/**
 * Database outage and recovery. Runs in its own project after every other
 * test, because it stops Postgres.
 *
 * Uses the plain @playwright/test `test`: a 503 page logs a console error
 * ("Failed to load resource"), which the suite's own fixture would reject.
 */
import { execSync } from 'node:child_process';
import path from 'node:path';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { BASE_URL, SAME_ORIGIN_HEADERS, SECURITY_PATH, newAccount, signUpViaApi } from './fixtures';

const END2END_DIR = path.resolve(__dirname, '..');

/** Runs `../scripts/pg.sh <action>` from end2end/, whatever the current directory. */
function pg(action: 'start' | 'stop'): void {
  execSync(`../scripts/pg.sh ${action}`, { cwd: END2END_DIR, stdio: 'inherit' });
}

/** Internal details that must never reach a visitor. */
const LEAKS = [/panicked/i, /sqlx/i, /database/i, /postgres/i, /PoolTimedOut/i, /connection refused/i, /RUST_BACKTRACE/];

function expectNoLeaks(text: string, what: string): void {
  for (const leak of LEAKS) expect(text, `${what} must not expose internals`).not.toMatch(leak);
}

test.describe.configure({ mode: 'serial' });

test.describe('database outage', () => {
  let context: BrowserContext;
  let page: Page;
  let postgresStopped = false;

  test.beforeAll(async ({ browser }) => {
    context = await browser.newContext({ baseURL: BASE_URL });
    page = await context.newPage();
  });

  test.afterAll(async () => {
    // Leave the database running whatever happened.
    if (postgresStopped) {
      pg('start');
      postgresStopped = false;
    }
    await context?.close();
  });

  test('a signed-in user can load the security page', async () => {
    await signUpViaApi(page, newAccount());
    const response = await page.goto(SECURITY_PATH);
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe(SECURITY_PATH);
    await expect(page.getByRole('heading', { name: 'Sessions', exact: true })).toBeVisible();
  });

  test('with Postgres down, pages answer 503 "temporarily unavailable"', async () => {
    postgresStopped = true; // set first: a failed stop may still have stopped it
    pg('stop');

    const response = await page.goto(SECURITY_PATH);
    expect(response, 'navigation response').not.toBeNull();
    expect(response!.status()).toBe(503);

    const visibleText = await page.locator('body').innerText();
    expect(visibleText).toMatch(/temporarily unavailable/i);
    expectNoLeaks(visibleText, 'the outage page');
    expectNoLeaks(await response!.text(), 'the outage page HTML');
  });

  test('with Postgres down, the sign-in endpoint answers 503 without internals', async ({ request }) => {
    const response = await request.post('/api/auth/sign-in', {
      form: { email: 'nobody@example.test', password: 'Correct-horse-outage-battery', return_to: SECURITY_PATH },
      headers: SAME_ORIGIN_HEADERS,
      maxRedirects: 0,
    });
    const body = await response.text();
    expect(
      response.status() === 503 || /temporarily unavailable/i.test(body),
      `expected 503 or "temporarily unavailable", got ${response.status()}: ${body.slice(0, 500)}`,
    ).toBe(true);
    expectNoLeaks(body, 'the sign-in error');
  });

  test('after Postgres restarts, the same session works again', async () => {
    test.setTimeout(90_000);
    pg('start');
    postgresStopped = false;

    await expect
      .poll(
        async () => {
          const response = await page.goto(SECURITY_PATH).catch(() => null);
          return `${response?.status()} ${new URL(page.url()).pathname}`;
        },
        { message: 'security page loads again for the same session', timeout: 30_000, intervals: [500, 1_000, 2_000] },
      )
      .toBe(`200 ${SECURITY_PATH}`);
    await expect(page.getByRole('heading', { name: 'Sessions', exact: true })).toBeVisible();
  });
});
