import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { WEB_DIR } from '../../src/server/web/static.js';

/** Debian's Chromium (`.ci/run` installs the `chromium` package when it is missing). */
export const CHROMIUM = process.env.REDIACC_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium as the tests drive it. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'],
  });
}

/** The dashboard must have been built (`npm run build`, which `npm test` runs first). */
export function requireDashboardBuild(): void {
  if (!existsSync(join(WEB_DIR, 'index.html'))) {
    throw new Error(`the dashboard is not built in ${WEB_DIR}: run npm run build first`);
  }
}

/** Collects what would show in the browser's console as a problem: errors, CSP violations, failed scripts. */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // Before logging in, the app asks who is logged in: that 401 is the expected answer.
    if (msg.type() !== 'error' || msg.location().url.endsWith('/api/v1/auth/session')) return;
    problems.push(`console: ${msg.text()} (${msg.location().url})`);
  });
  return problems;
}
