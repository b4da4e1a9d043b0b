import { defineConfig } from '@playwright/test';
import { BASE_URL, IDP_URL, MAIL_URL } from './base-url';

// `process.env.BASE_URL ?? 'http://localhost:3100'`, shared with the helpers.
const baseURL = BASE_URL;

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: {
    timeout: 10_000,
    toHaveScreenshot: { maxDiffPixels: 0, animations: 'disabled' },
  },
  snapshotPathTemplate: '{testDir}/__screenshots__/{testFilePath}/{arg}{ext}',

  // The list reporter's last line is the pass/fail summary.
  reporter: [['list']],
  forbidOnly: true,
  retries: 0,
  // Four on two cores: several tests spend most of their time waiting (for the next authenticator
  // code period, for a rate-limit window), and meanwhile the others use the cores.
  workers: Number(process.env.E2E_WORKERS ?? 4),
  fullyParallel: true,

  use: {
    baseURL,
    browserName: 'chromium',
    // Fixed environment so screenshots and axe results are reproducible.
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
    colorScheme: 'light',
    launchOptions: {
      // Debian's Chromium; `npx playwright install` is not available here.
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
      ],
    },
  },

  projects: [
    {
      name: 'main',
      testIgnore: /recovery\.spec\.ts$/,
    },
    {
      // Stops and restarts Postgres, so it must run after everything else.
      name: 'recovery',
      testMatch: /recovery\.spec\.ts$/,
      dependencies: ['main'],
    },
  ],

  webServer: [
    {
      // The local sign-in provider standing in for Google and GitHub (tools/idp), started before
      // the server, which may read Google's discovery document as it starts. One already running
      // on the same port (`make run`'s, scripts/idp.sh start) is used as it is: it keeps no state.
      command: '../scripts/idp.sh serve',
      url: IDP_URL + '/healthz',
      reuseExistingServer: true,
      timeout: 20_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      // The local mail catcher (tools/mail): the server sends every email to its SMTP port and the
      // tests read them from its JSON API (tests/fixtures.ts). One already running on the same
      // port (`make run`'s, scripts/mail.sh start) is used as it is: the tests only look for mail
      // to their own fresh addresses.
      command: '../scripts/mail.sh serve',
      url: MAIL_URL + '/healthz',
      reuseExistingServer: true,
      timeout: 20_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      // Starts the server on port 3100 against a fresh database.
      command: '../scripts/e2e-server.sh',
      url: baseURL + '/healthz',
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'pipe',
      stderr: 'pipe',
    },
  ],
});
