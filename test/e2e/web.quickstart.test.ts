import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, requireDashboardBuild, watchProblems } from '../helpers/browser.js';
import { daemon, freePort, stop, waitForHealth } from '../helpers/cli.js';
import { waitFor } from '../helpers/server.js';

// The README's quick start with the dashboard, as a new user does it: start
// the built server, open the URL it prints, log in with the admin token it
// saved, run the public example from the form and see its output arrive.

describe('quick start in the browser', () => {
  let cwd: string;
  let server: ReturnType<typeof daemon>['child'];
  let logFile: string;
  let browser: Browser;

  beforeAll(async () => {
    requireDashboardBuild();
    cwd = mkdtempSync(join(tmpdir(), 'rediacc-web-quickstart-'));
    const port = await freePort();
    ({ child: server, logFile } = daemon(['server', '--port', String(port)], { cwd }));
    await waitForHealth(`http://127.0.0.1:${port}`);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    if (server !== undefined) await stop(server);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('opens the printed URL, logs in with the admin token and runs the public example live', async () => {
    const printed = await waitFor(async () => {
      const m = /^dashboard: (http:\/\/\S+)/m.exec(readFileSync(logFile, 'utf8'));
      return m?.[1];
    });
    const token = readFileSync(join(cwd, '.rediacc/admin-token'), 'utf8').trim();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const problems = watchProblems(page);
    await page.goto(printed);
    await page.getByRole('button', { name: 'API token' }).click();
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('link', { name: 'New task' }).first().click();
    await page.getByLabel('Machine', { exact: true }).selectOption('local');
    await page.getByLabel('Priority').selectOption('1');
    await page.getByLabel('Command').fill('echo ok');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByTestId('output').locator('[data-stream="stdout"]', { hasText: 'ok' }).waitFor();
    await page.locator('.page-head .badge', { hasText: 'completed' }).waitFor();
    expect(problems).toEqual([]);
  });
});
