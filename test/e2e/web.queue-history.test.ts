import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QueueSampler } from '../../src/history/queue-sampler.js';
import { MINUTE_MS } from '../../src/history/queue-samples.js';
import { launchBrowser, requireDashboardBuild, watchProblems } from '../helpers/browser.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.js';

// The overview chart drawn from the server's queue history, and "slower than
// usual" on the task page and in the task list, in Chromium against a real
// server whose embedded bridge runs the tasks.

const NAP_COMMAND = 'sleep "$NAP"';

describe('queue history and usual run times in the dashboard', () => {
  let t: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let slow = '';

  const runToEnd = async (nap: string) => {
    const c = await t.api('POST', '/tasks', { machine: 'local', command: NAP_COMMAND, env: { NAP: nap } });
    expect(c.status).toBe(201);
    await waitFor(async () =>
      (await t.api('GET', `/tasks/${c.body.taskId}`)).body.status === 'completed' ? true : undefined,
    );
  };

  beforeAll(async () => {
    requireDashboardBuild();
    t = await startTestServer({});
    for (let i = 0; i < 3; i += 1) await runToEnd('0');
    // What the periodic duty does as minutes end: the last one and the current one (which holds the starts).
    const sampler = new QueueSampler({
      store: t.server.store,
      logger: pino({ level: 'silent' }),
      clock: Date.now,
    });
    const now = Date.now();
    await sampler.tick(now);
    await sampler.tick(now + MINUTE_MS);
    slow = (await t.api('POST', '/tasks', { machine: 'local', command: NAP_COMMAND, env: { NAP: '120' } }))
      .body.taskId;
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    if (slow !== '') await t?.api('POST', `/tasks/${slow}/cancel`, {});
    await browser?.close();
    await t?.close();
  });

  /** Logs in with the admin token and goes to `path`; `asked` collects the queue history requests. */
  const open = async (path = '/', asked: string[] = []) => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    problems = watchProblems(page);
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/queue/history')) asked.push(new URL(r.url()).search);
    });
    await page.goto(`${t.url}/`);
    await page.getByRole('button', { name: 'API token' }).click();
    await page.getByLabel('API token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    if (path !== '/') await page.goto(`${t.url}${path}`);
  };
  afterEach(async () => {
    await context?.close();
    expect(problems).toEqual([]);
  });

  it('draws the queue over time from the server, with the live counts last', async () => {
    const asked: string[] = [];
    await open('/', asked);
    const chart = page.locator('figure.chart');
    await chart.waitFor();
    // The tasks that started in the sampled minutes give the p95 wait a value.
    await expect(chart.locator('figcaption').textContent()).resolves.toMatch(
      /waiting tasks: \d+ now.*running: \d+ now.*wait before start \(p95\): \d+ (s|min).* max.*oldest wait:/,
    );
    await expect(page.getByTestId('history-note').textContent()).resolves.toMatch(
      /Sampled by the server once a minute \(2 minutes in the last 6 h\);/,
    );
    expect(asked).toEqual(['?hours=6&step=1']);
    await page.getByRole('button', { name: '24 h' }).click();
    await page
      .getByTestId('history-note')
      .getByText(/drawn per 5 minutes/)
      .waitFor();
    expect(asked.at(-1)).toBe('?hours=24&step=5');
    expect(await page.getByRole('button', { name: '24 h' }).getAttribute('aria-pressed')).toBe('true');
  });

  it('says on the task page and in the list that a running task is slower than usual', async () => {
    await open(`/tasks/${slow}`);
    const note = page.getByTestId('usual');
    await note.waitFor();
    // Within the usual time at first; 5 s past it (the margin) it turns into "slower".
    await waitFor(
      async () => ((await note.getAttribute('data-verdict')) === 'SLOWER' ? true : undefined),
      20_000,
    );
    await expect(note.textContent()).resolves.toMatch(
      /^running \d+(\.\d)?× longer than usual \(usual \d+ (ms|s) over 3 runs\)$/,
    );
    expect(await note.getAttribute('class')).toContain('slower');

    await page.goto(`${t.url}/tasks?status=running`);
    const badge = page.locator(`tr[data-task="${slow}"]`).getByTestId('usual-badge');
    await badge.waitFor();
    await expect(badge.textContent()).resolves.toMatch(/^ \d+(\.\d)?× usual$/);
    expect(await badge.getAttribute('title')).toMatch(/longer than usual/);
  }, 40_000);
});
