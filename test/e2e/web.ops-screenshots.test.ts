import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { launchBrowser, requireDashboardBuild } from '../helpers/browser.js';
import { rediacc } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, waitFor } from '../helpers/server.js';
import { PASSWORD, userWithRoles } from '../helpers/teams.js';

// Not a check: takes the screenshots of the operator pages (vault, batches,
// audit, teams, bridges, search, machine history, alerts, schedules) into
// docs/screenshots/. Run with REDIACC_SCREENSHOTS=1.

const OUT = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const MASTER = 'screenshot master password';
const MACHINES = 300;

describe.runIf(process.env.REDIACC_SCREENSHOTS === '1')('operator page screenshots', () => {
  it('takes the operator pages at 1280 px and one at phone width', { timeout: 300_000 }, async () => {
    requireDashboardBuild();
    mkdirSync(OUT, { recursive: true });
    const t = await startTestServer({ healthIntervalMs: 0, masterPassword: MASTER });
    const browser = await launchBrowser();
    const cli = (args: string[], input?: string) =>
      rediacc(args, {
        env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_MASTER_PASSWORD: MASTER },
        ...(input === undefined ? {} : { input }),
      });
    try {
      await t.api('POST', '/teams', { name: 'payments' });
      await userWithRoles(t, 'alice@example.com', { default: 'maintainer', payments: 'operator' });
      await userWithRoles(t, 'bob@example.com', { default: 'operator' });
      await userWithRoles(t, 'carol@example.com', { default: 'viewer', payments: 'maintainer' });
      await t.api('POST', '/regions', { name: 'eu-west' });
      await t.api('POST', '/bridges', { name: 'eu-west-1', region: 'eu-west' });
      for (const [key, value] of [
        ['db/password', 'hunter2-but-longer'],
        ['deploy/token', 'tok_live_51H8s'],
        ['ssh/backup', 'not a real key'],
      ] as const) {
        await cli(['vault', 'set', key, '--stdin'], value);
      }
      const names = Array.from({ length: MACHINES }, (_, i) => `web-${i + 1}`);
      for (let i = 0; i < names.length; i += 50) {
        await Promise.all(
          names.slice(i, i + 50).map((name, j) =>
            t.api('POST', '/machines', {
              name,
              concurrency: 2,
              labels: { role: 'web', zone: `eu-${(i + j) % 3}` },
            }),
          ),
        );
      }
      const commandOf = (i: number) =>
        i % 23 === 0
          ? `echo "deploying v2.4.1"; echo "web-${i + 1}: connect to 10.0.${i % 200}.5:5432 failed: connection refused" >&2; exit 2`
          : i % 37 === 0
            ? 'echo "deploying v2.4.1"; echo "E: no space left on device" >&2; exit 4'
            : i % 101 === 0
              ? 'echo "deploying v2.4.1"; sleep 30'
              : `echo "deploying v2.4.1"; echo "web-${i + 1} ok"`;
      const batch = (
        await t.api('POST', '/tasks', {
          tasks: names.map((machine, i) => ({
            machine,
            command: commandOf(i),
            failureAction: i % 23 === 0 ? 'alert' : 'none',
          })),
        })
      ).body.batchId as string;
      await waitFor(async () => {
        const b = (await t.api('GET', `/batches/${batch}`)).body;
        return b.done >= MACHINES - 3 ? b : undefined;
      }, 120_000);
      await t.api('POST', '/tasks', { machines: names.slice(0, 40), command: 'systemctl reload nginx' });
      await t.api('POST', '/schedules', {
        name: 'nightly-backup',
        cron: '0 3 * * *',
        timezone: 'Europe/Berlin',
        machine: 'web-1',
        command: '/usr/local/bin/backup --full',
      });
      await t.api('POST', '/schedules', {
        name: 'log-rotate',
        cron: '@hourly',
        machines: names.slice(0, 10),
        command: 'logrotate /etc/logrotate.conf',
        paused: true,
      });

      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const page = await context.newPage();
      await page.goto(`${t.url}/`);
      await page.getByLabel('Email').fill('alice@example.com');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Overview' }).waitFor();

      await page.goto(`${t.url}/batches/${batch}`);
      await page.getByTestId('failure-groups').waitFor();
      await page.screenshot({ path: join(OUT, 'batch.png'), fullPage: true });
      await page.goto(`${t.url}/batches`);
      await page.locator('tr[data-batch]').first().waitFor();
      await page.screenshot({ path: join(OUT, 'batches.png'), fullPage: true });

      await page.goto(`${t.url}/vault`);
      await page.getByLabel('Master password').fill(MASTER);
      await page.getByRole('button', { name: 'Unlock' }).click();
      await page.locator('tr[data-key="db/password"]').getByRole('button', { name: 'Reveal' }).click();
      await page.getByTestId('vault-value').waitFor();
      await page.getByLabel('Key', { exact: true }).fill('api/stripe');
      await page.screenshot({ path: join(OUT, 'vault.png'), fullPage: true });

      await page.goto(`${t.url}/search?q=connection%20refused`);
      await page.getByTestId('search-results').locator('li').first().waitFor();
      await page.screenshot({ path: join(OUT, 'search.png') });

      await page.goto(`${t.url}/machines/web-24`);
      await page.getByTestId('machine-tasks').locator('tr[data-task]').first().waitFor();
      await page.screenshot({ path: join(OUT, 'machine-history.png'), fullPage: true });

      const live = (
        await t.api('POST', '/tasks', {
          machine: 'web-2',
          command:
            'for i in $(seq 1 40); do echo "replica $i in sync"; [ $((i % 6)) -eq 0 ] && echo "replica $i lagging" >&2; sleep 0.2; done',
        })
      ).body.taskId as string;
      await page.goto(`${t.url}/tasks/${live}?find=lagging`);
      await page.getByTestId('output').getByText('replica 12 lagging').waitFor();
      await page.screenshot({ path: join(OUT, 'task-find.png'), fullPage: true });

      await page.goto(`${t.url}/tasks?status=running`);
      await page.locator('tr[data-task] input[type="checkbox"]').first().waitFor();
      for (const box of (await page.locator('tr[data-task] input[type="checkbox"]').all()).slice(0, 2))
        await box.check();
      await page.screenshot({ path: join(OUT, 'tasks-bulk.png') });

      await page.goto(`${t.url}/teams`);
      await page.locator('section[data-team="default"] tr[data-member]').first().waitFor();
      await page.screenshot({ path: join(OUT, 'teams.png'), fullPage: true });
      await page.goto(`${t.url}/schedules`);
      await page.locator('tr[data-schedule]').first().waitFor();
      await page.screenshot({ path: join(OUT, 'schedules.png'), fullPage: true });
      await page.goto(`${t.url}/alerts`);
      await page.getByTestId('alerts').locator('tbody tr').first().waitFor();
      await page.screenshot({ path: join(OUT, 'alerts.png'), fullPage: true });
      await context.close();

      const admin = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
      await admin.goto(`${t.url}/`);
      await admin.getByRole('button', { name: 'API token' }).click();
      await admin.getByLabel('API token').fill(ADMIN_TOKEN);
      await admin.getByRole('button', { name: 'Log in' }).click();
      await admin.getByRole('heading', { name: 'Overview' }).waitFor();
      await admin.goto(`${t.url}/audit`);
      await admin.getByRole('button', { name: 'Verify the chain' }).click();
      await admin.getByTestId('chain-result').waitFor();
      await admin.screenshot({ path: join(OUT, 'audit.png') });
      await admin.goto(`${t.url}/bridges`);
      await admin.locator('section[data-region="eu-west"]').waitFor();
      await admin.screenshot({ path: join(OUT, 'bridges.png'), fullPage: true });

      const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
      await phone.goto(`${t.url}/`);
      await phone.getByLabel('Email').fill('bob@example.com');
      await phone.getByLabel('Password').fill(PASSWORD);
      await phone.getByRole('button', { name: 'Log in' }).click();
      await phone.getByRole('heading', { name: 'Overview' }).waitFor();
      await phone.goto(`${t.url}/batches/${batch}`);
      await phone.getByTestId('failure-groups').waitFor();
      await phone.screenshot({ path: join(OUT, 'phone-batch.png') });
    } finally {
      await browser.close();
      await t.close();
    }
  });
});
