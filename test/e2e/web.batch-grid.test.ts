import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, requireDashboardBuild, watchProblems } from '../helpers/browser.js';
import { startTestServer, type TestServer, waitFor } from '../helpers/server.js';
import { PASSWORD, userWithRoles } from '../helpers/teams.js';

// A batch over 1,200 machines in Chromium: the grid keeps a small window of
// rows in the DOM, shows failures first, leads from a machine to its output
// in one click, groups failures by error text and re-runs the failed ones;
// output search across tasks; a machine's own history; bulk cancel.

const MACHINES = 1200;
/** Every 7th machine fails, in one of two ways. */
const fails = (i: number) => i % 7 === 0;
const commandOf = (i: number) =>
  !fails(i)
    ? 'true'
    : i % 2 === 0
      ? `echo "gm-${i}: cannot reach 10.1.${i % 250}.7:5432" >&2; exit 2`
      : 'echo "E: disk full" >&2; exit 4';
const FAILED = Array.from({ length: MACHINES }, (_, i) => i).filter(fails).length;

describe('batch grid, output search and bulk actions in Chromium', () => {
  let t: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let batchId: string;

  beforeAll(async () => {
    requireDashboardBuild();
    t = await startTestServer({ healthIntervalMs: 0 });
    await userWithRoles(t, 'op@example.com', { default: 'operator' });
    await userWithRoles(t, 'viewer@example.com', { default: 'viewer' });
    const names = Array.from({ length: MACHINES }, (_, i) => `gm-${i}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map(async (name) => {
          const r = await t.api('POST', '/machines', { name, transport: 'local', concurrency: 1 });
          if (r.status !== 201) throw new Error(`machine ${name}: ${JSON.stringify(r.body)}`);
        }),
      );
    }
    const created = await t.api('POST', '/tasks', {
      tasks: names.map((machine, i) => ({ machine, command: commandOf(i) })),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    batchId = created.body.batchId;
    await waitFor(
      async () => {
        const b = (await t.api('GET', `/batches/${batchId}`)).body;
        return b.done === MACHINES ? b : undefined;
      },
      240_000,
      500,
    );
    browser = await launchBrowser();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  const open = async (email: string) => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    problems = watchProblems(page);
    await page.goto(`${t.url}/`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  };
  afterEach(async () => {
    await context?.close();
    expect(problems).toEqual([]);
  });

  const gridRows = () => page.locator('[data-testid="batch-grid"] tr[data-index]');

  it(`renders a window of a ${MACHINES}-machine grid, failures first, and leads to a machine's output`, async () => {
    await open('op@example.com');
    await page.getByRole('link', { name: 'Batches' }).click();
    await page.locator(`tr[data-batch="${batchId}"] a`).click();
    await page
      .getByTestId('grid-count')
      .getByText(`${MACHINES} of ${MACHINES} shown, failures first`)
      .waitFor();
    const grid = page.getByTestId('batch-grid');
    expect(await grid.getAttribute('aria-rowcount')).toBe(String(MACHINES + 1));

    const inDom = await gridRows().count();
    expect(inDom).toBeGreaterThan(5);
    expect(inDom).toBeLessThan(60);
    // Failures first: every row in view is failed, and the first is the lowest-numbered failed machine.
    const statuses = await gridRows().locator('.badge').allTextContents();
    expect(new Set(statuses)).toEqual(new Set(['failed']));
    expect(await gridRows().first().locator('a').textContent()).toBe('gm-0');

    // Scrolled to the end: still a small window, now of completed machines.
    await page.locator('.vt-body').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await waitFor(async () =>
      (await gridRows().last().getAttribute('data-index')) === String(MACHINES - 1) ? true : undefined,
    );
    expect(await gridRows().count()).toBeLessThan(60);
    expect(new Set(await gridRows().locator('.badge').allTextContents())).toEqual(new Set(['completed']));

    // The keyboard moves through the grid: Home, then Enter opens the current machine's task.
    await page.locator('.vt-body').focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await waitFor(async () =>
      (await page.locator('.vt-row.current').getAttribute('data-index')) === '1' ? true : undefined,
    );
    expect(await page.locator('.vt-row.current a').textContent()).toBe('gm-7');

    // Filter by machine, then one click from the machine to its output.
    await page.getByLabel('Machine', { exact: true }).fill('gm-1148');
    await page.getByTestId('grid-count').getByText(`1 of ${MACHINES} shown`).waitFor();
    await gridRows().first().getByRole('link', { name: 'gm-1148' }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await page.getByTestId('output').getByText('gm-1148: cannot reach 10.1.148.7:5432').waitFor();
  });

  it('groups failures by error text and re-runs only the failed machines, as a new batch', async () => {
    await open('op@example.com');
    await page.goto(`${t.url}/batches/${batchId}`);
    const groups = page.getByTestId('failure-groups').locator('li');
    await groups.first().waitFor();
    const counts = (
      await groups.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))))
    ).sort((a, b) => b - a);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(FAILED);
    expect(counts).toHaveLength(2);
    await groups.filter({ hasText: '<machine>: cannot reach <ip>' }).waitFor();
    await groups.filter({ hasText: 'E: disk full' }).waitFor();

    await page.getByRole('button', { name: `Re-run on the ${FAILED} failed machines` }).click();
    await page.getByRole('button', { name: `Re-run ${FAILED} failed` }).click();
    await page.waitForURL(
      (u) => /\/batches\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(batchId),
    );
    const rerun = new URL(page.url()).pathname.split('/').at(-1) as string;
    const grid = (await t.api('GET', `/batches/${rerun}/tasks`)).body;
    expect(grid.total).toBe(FAILED);
    expect(grid.tasks.every((x: { machine: string }) => fails(Number(x.machine.slice(3))))).toBe(true);
    await page.getByTestId('grid-count').getByText(`${FAILED} of ${FAILED} shown`).waitFor();
  });

  it('reads the failure groups of a running batch at most every 30 s, not on every new failure', async () => {
    // Eight machines fail one after the other, about a second apart.
    const machines = Array.from({ length: 8 }, (_, i) => `gm-${1101 + i}`);
    const created = await t.api('POST', '/tasks', {
      tasks: machines.map((machine, i) => ({
        machine,
        command: `sleep ${1 + i * 1.2}; echo "E: step ${i + 100} broke" >&2; exit 3`,
      })),
    });
    expect(created.status).toBe(201);
    await open('viewer@example.com');
    const reads: number[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === `/api/v1/batches/${created.body.batchId}/failures`)
        reads.push(Date.now());
    });
    await page.goto(`${t.url}/batches/${created.body.batchId}`);
    await page.getByTestId('grid-count').waitFor();
    // The grid follows every failure; the groups were read once meanwhile.
    await page.getByRole('option', { name: 'failed (8)' }).waitFor({ state: 'attached', timeout: 30_000 });
    expect(reads).toHaveLength(1);
    await page.getByTestId('failures-behind').waitFor();
    // Then once more, 30 s after the first read, with every failure.
    await page
      .getByTestId('failure-groups')
      .locator('li[data-count="8"]')
      .filter({ hasText: 'E: step <n> broke' })
      .waitFor({ timeout: 45_000 });
    expect(reads).toHaveLength(2);
    expect((reads[1] as number) - (reads[0] as number)).toBeGreaterThanOrEqual(29_000);
    expect(await page.getByTestId('failures-behind').count()).toBe(0);
  }, 90_000);

  it('shows the not-found page for a malformed link followed inside the dashboard', async () => {
    await open('viewer@example.com');
    // The server answers 400 to such a URL itself; inside the dashboard a link goes through the router.
    for (const path of ['/machines/%E0', '/machines/%C3%28', '/tasks/%E0']) {
      await page.evaluate((to) => {
        const w = globalThis as unknown as {
          history: { pushState(state: null, title: string, url: string): void };
          dispatchEvent(e: unknown): void;
          PopStateEvent: new (type: string) => unknown;
        };
        w.history.pushState(null, '', to);
        w.dispatchEvent(new w.PopStateEvent('popstate'));
      }, path);
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
      expect(new URL(page.url()).pathname).toBe(path);
      await page.getByRole('link', { name: 'overview', exact: true }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
    }
  });

  it('searches across the output of many tasks and inside a live task', async () => {
    await open('viewer@example.com');
    await page.getByRole('link', { name: 'Search' }).click();
    await page.getByLabel('Text').fill('DISK FULL');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByTestId('search-summary').waitFor();
    const results = page.getByTestId('search-results').locator('li');
    await results.first().locator('mark', { hasText: 'disk full' }).waitFor();
    expect(await results.count()).toBeGreaterThan(10);
    // The window is bounded: older tasks are a click away.
    await page.getByRole('button', { name: 'Search older tasks' }).waitFor();

    // Inside one task, while its output still arrives.
    const live = await t.api('POST', '/tasks', {
      machine: 'gm-1',
      command: 'for i in 1 2 3 4 5 6; do echo "step $i needle"; sleep 0.8; done',
    });
    await page.goto(`${t.url}/tasks/${live.body.taskId}`);
    await page.getByTestId('output').getByText('step 1 needle').waitFor();
    await page.getByLabel('Find in output').fill('NEEDLE');
    const count = page.getByTestId('find-count');
    await count.getByText(/^1 of [1-5]$/).waitFor();
    await count.getByText('1 of 6').waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    await count.getByText('2 of 6').waitFor();
    const highlighted = await page.evaluate(() => {
      const h = (globalThis as unknown as { CSS: { highlights: Map<string, Set<object>> } }).CSS.highlights;
      return [...(h.get('ops-find') ?? [])].map((r) => String(r));
    });
    expect(highlighted).toEqual(Array(6).fill('needle'));
  });

  it("shows a machine's own history: every task that ran there and how it went", async () => {
    await open('viewer@example.com');
    await page.goto(`${t.url}/machines`);
    await page.getByLabel('Name, team or label').fill('gm-7');
    await page.getByRole('link', { name: 'gm-7', exact: true }).click();
    await page.getByRole('heading', { name: 'Machine gm-7' }).waitFor();
    const summary = page.getByTestId('machine-summary');
    await summary.getByText('failed').first().waitFor();
    // Fewer tasks than the 10,000 counted at most: every one of them.
    await summary.getByRole('heading', { name: 'All its tasks' }).waitFor();
    const rows = page.getByTestId('machine-tasks').locator('tr[data-task]');
    await rows.first().waitFor();
    // Every task that ran there (the batch's, and the re-run's when it ran), newest first.
    const api = (await t.api('GET', '/tasks?machine=gm-7')).body as { taskId: string; status: string }[];
    await waitFor(async () => ((await rows.count()) === api.length ? true : undefined));
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-task')))).toEqual(
      api.map((x) => x.taskId),
    );
    expect(await rows.locator('.badge[class*="st-"]').allTextContents()).toEqual(api.map(() => 'failed'));
  });

  it('cancels several selected tasks at once; a viewer has no checkboxes', async () => {
    const ids: string[] = [];
    for (const machine of ['gm-2', 'gm-3', 'gm-4']) {
      ids.push((await t.api('POST', '/tasks', { machine, command: 'sleep 120' })).body.taskId);
    }
    await waitFor(async () => {
      const s = await Promise.all(ids.map(async (id) => (await t.api('GET', `/tasks/${id}`)).body.status));
      return s.every((x) => x === 'running') ? true : undefined;
    });
    await open('op@example.com');
    await page.goto(`${t.url}/tasks?status=running`);
    for (const id of ids.slice(0, 2))
      await page.locator(`tr[data-task="${id}"] input[type="checkbox"]`).check();
    await page.getByRole('button', { name: 'Cancel 2' }).click();
    await page.getByText('2 cancelled').waitFor();
    const after = await Promise.all(ids.map(async (id) => (await t.api('GET', `/tasks/${id}`)).body.status));
    expect(after.slice(0, 2).every((s) => s === 'cancelled' || s === 'cancelling')).toBe(true);
    expect(after[2]).toBe('running');
    await context.close();

    await open('viewer@example.com');
    await page.goto(`${t.url}/tasks`);
    await page.locator(`tr[data-task="${ids[2]}"]`).waitFor();
    expect(await page.locator('table.tasks input[type="checkbox"]').count()).toBe(0);
    await page.goto(`${t.url}/batches/${batchId}`);
    await page.getByTestId('grid-count').waitFor();
    expect(await page.getByRole('button', { name: /Re-run/ }).count()).toBe(0);
    await t.api('POST', `/tasks/${ids[2]}/cancel`, {});
  });
});
