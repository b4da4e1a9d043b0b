/**
 * Where the app under test is served. Shared by playwright.config.ts and the
 * test helpers so both agree on the site origin (used for the Origin header
 * the server requires on form POSTs).
 */
export const BASE_URL = process.env.BASE_URL ?? 'http://localhost:3100';

/** The site origin, e.g. `http://localhost:3100`. */
export const SITE_ORIGIN = new URL(BASE_URL).origin;

/**
 * The local sign-in provider standing in for Google (`${IDP_URL}/google`) and
 * GitHub (`${IDP_URL}/github`), e.g. `http://127.0.0.1:32963`. scripts/env.sh
 * derives IDP_PORT from the checkout's path and scripts/test.sh exports it.
 */
export const IDP_URL = (() => {
  const port = process.env.IDP_PORT;
  if (!port || !/^\d+$/.test(port)) {
    throw new Error('IDP_PORT is not set: run the tests through `make test` (scripts/test.sh), or export IDP_PORT as scripts/env.sh does');
  }
  return `http://127.0.0.1:${port}`;
})();

/**
 * The local mail catcher's pages and JSON API (`${MAIL_URL}/api/messages`), e.g.
 * `http://127.0.0.1:12963`: every email the server under test sends goes to its SMTP port.
 * scripts/env.sh derives MAIL_WEB_PORT from the checkout's path and scripts/test.sh exports it.
 */
export const MAIL_URL = (() => {
  const port = process.env.MAIL_WEB_PORT;
  if (!port || !/^\d+$/.test(port)) {
    throw new Error('MAIL_WEB_PORT is not set: run the tests through `make test` (scripts/test.sh), or export MAIL_WEB_PORT as scripts/env.sh does');
  }
  return `http://127.0.0.1:${port}`;
})();
