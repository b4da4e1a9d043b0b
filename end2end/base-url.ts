/**
 * Where the app under test is served. Shared by playwright.config.ts and the
 * test helpers so both agree on the site origin (used for the Origin header
 * the server requires on form POSTs).
 */
export const BASE_URL = process.env.BASE_URL ?? 'http://localhost:3100';

/** The site origin, e.g. `http://localhost:3100`. */
export const SITE_ORIGIN = new URL(BASE_URL).origin;
