import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { launchBrowser, requireDashboardBuild } from '../helpers/browser.js';
import { startTestServer, waitFor } from '../helpers/server.js';
import { PASSWORD, userWithRoles } from '../helpers/teams.js';

// Not a check: takes the screenshots in docs/screenshots/ from a real server
// with some work on it. Run with REDIACC_SCREENSHOTS=1 (it takes about three
// minutes, so that the machines' health history has a few points).

const OUT = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const HISTORY_WAIT_MS = 150_000;

describe.runIf(process.env.REDIACC_SCREENSHOTS === '1')('dashboard screenshots', () => {
  it('takes the main pages at 1280 px and at phone width', { timeout: 300_000 }, async () => {
    requireDashboardBuild();
    mkdirSync(OUT, { recursive: true });
    const started = Date.now();
    const t = await startTestServer({ healthIntervalMs: 5_000 });
    const browser = await launchBrowser();
    try {
      await userWithRoles(t, 'ops@example.com', { default: 'operator' });
      for (const [name, labels] of [
        ['web-1', { role: 'web', zone: 'eu-1' }],
        ['web-2', { role: 'web', zone: 'eu-2' }],
        ['db-1', { role: 'db', zone: 'eu-1' }],
      ] as const) {
        await t.api('POST', '/machines', { name, labels, concurrency: 2 });
      }
      await t.api('POST', '/regions', { name: 'us-east' });
      await t.api('POST', '/machines', { name: 'us-batch-1', region: 'us-east', labels: { role: 'batch' } });
      const task = async (body: Record<string, unknown>) =>
        (await t.api('POST', '/tasks', body)).body.taskId as string;
      await task({ machine: 'local', priority: 1, command: 'uptime' });
      await task({ machine: 'web-1', command: 'echo deploy web-1; sleep 1; echo done' });
      await task({
        machine: 'db-1',
        command: 'echo vacuum; exit 3',
        retryCount: 1,
        retryDelay: 1,
        failureAction: 'alert',
      });
      const live = await task({
        machine: 'web-2',
        priority: 2,
        command:
          'for i in $(seq 1 400); do echo "syncing shard $i of 400"; [ $((i % 7)) -eq 0 ] && echo "shard $i: slow replica" >&2; sleep 0.5; done',
      });

      const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
      await page.goto(`${t.url}/`);
      await page.screenshot({ path: join(OUT, 'login.png') });
      await page.getByLabel('Email').fill('ops@example.com');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      // Work arrives in waves while the overview samples the queue.
      for (let wave = 0; wave < 8; wave += 1) {
        const n = [3, 5, 8, 6, 9, 4, 2, 1][wave] as number;
        for (let i = 0; i < n; i += 1) {
          await task({
            machine: 'us-batch-1',
            priority: ((i % 4) + 2) as 2 | 3 | 4 | 5,
            command: `./batch.sh ${wave}-${i}`,
          });
        }
        await page.waitForTimeout(3_000);
      }
      await page.screenshot({ path: join(OUT, 'overview.png'), fullPage: true });

      await page.goto(`${t.url}/tasks`);
      await page.locator('tr[data-task]').first().waitFor();
      await page.screenshot({ path: join(OUT, 'tasks.png'), fullPage: true });

      await page.goto(`${t.url}/tasks/${live}`);
      await page.getByTestId('output').getByText('shard 14: slow replica').waitFor({ timeout: 20_000 });
      await page.screenshot({ path: join(OUT, 'task-detail.png'), fullPage: true });

      const waiting = (await t.api('GET', '/tasks?machine=us-batch-1&limit=1')).body[0].taskId as string;
      await page.goto(`${t.url}/tasks/${waiting}`);
      await page.getByRole('heading', { name: 'Why it waits' }).waitFor();
      await page.screenshot({ path: join(OUT, 'task-waiting.png'), fullPage: true });

      await page.goto(`${t.url}/tasks/new`);
      await page.getByLabel('Command').fill('systemctl restart webserver');
      await page.getByRole('button', { name: 'Add variable' }).click();
      await page.getByLabel('Name').fill('DB_PASSWORD');
      await page.screenshot({ path: join(OUT, 'new-task.png'), fullPage: true });

      // The health history keeps one point a minute: wait for a few.
      await page.waitForTimeout(Math.max(0, HISTORY_WAIT_MS - (Date.now() - started)));
      await page.goto(`${t.url}/machines`);
      await waitFor(async () => ((await page.locator('svg.spark').count()) > 0 ? true : undefined), 30_000);
      await page.screenshot({ path: join(OUT, 'machines.png'), fullPage: true });

      const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
      await phone.goto(`${t.url}/`);
      await phone.getByLabel('Email').fill('ops@example.com');
      await phone.getByLabel('Password').fill(PASSWORD);
      await phone.getByRole('button', { name: 'Log in' }).click();
      await phone.getByRole('heading', { name: 'Overview' }).waitFor();
      await phone.screenshot({ path: join(OUT, 'phone-overview.png'), fullPage: true });
      await phone.goto(`${t.url}/tasks/${live}`);
      await phone.getByTestId('output').waitFor();
      await phone.screenshot({ path: join(OUT, 'phone-task-detail.png') });
    } finally {
      await browser.close();
      await t.close();
    }
  });
});
