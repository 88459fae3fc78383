import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import type { Priority } from '../../src/core/types.js';
import { MINUTE_MS } from '../../src/history/queue-samples.js';
import type { Store } from '../../src/store/store.js';
import { launchBrowser, requireDashboardBuild } from '../helpers/browser.js';
import { ADMIN_TOKEN, startTestServer, waitFor } from '../helpers/server.js';

// Not a check: the screenshots of the queue history and "slower than usual"
// in docs/screenshots/. Run with REDIACC_SCREENSHOTS=1. Six hours of a busy
// queue are played through the store (a bridge of region `sim` claims and
// reports at past times, and the minute is sampled as the duty would), so
// the chart has something to show at once.

const OUT = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const LEASE_MS = 30 * 24 * 60 * MINUTE_MS;

async function playHistory(store: Store, hours: number): Promise<void> {
  const end = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
  const start = end - hours * 60 * MINUTE_MS;
  await store.ensureRegion('sim', start);
  await store.upsertBridge('sim-bridge', 'sim', start);
  for (let i = 1; i <= 4; i += 1) {
    await store.createMachine(
      {
        name: `batch-${i}`,
        team: 'default',
        region: 'sim',
        transport: 'local',
        concurrency: 3,
        labels: {},
        host: null,
        port: null,
        user: null,
      },
      start,
    );
  }
  let seed = 7;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const running: { taskId: string; endAt: number }[] = [];
  for (let m = start, i = 0; m < end; m += MINUTE_MS, i += 1) {
    // A calm queue with two bursts of work.
    const burst = (i > 90 && i < 130) || (i > 250 && i < 270) ? 18 : 0;
    const arrivals = Math.round(random() * 4 + burst * random());
    for (let k = 0; k < arrivals; k += 1) {
      await store.insertTasks(
        [
          {
            taskId: randomUUID(),
            batchId: null,
            machine: `batch-${1 + Math.floor(random() * 4)}`,
            priority: (1 + Math.floor(random() * 5)) as Priority,
            command: 'nightly-report --region sim',
            env: {},
            secretEnv: {},
            retryCount: 0,
            retryDelaySeconds: 0,
            backoff: 'fixed',
            failureAction: 'none',
            timeoutSeconds: null,
            createdBy: null,
          },
        ],
        m + Math.floor(random() * 50_000),
      );
    }
    const at = m + 55_000;
    const ended = running.filter((r) => r.endAt <= at);
    const claimed = await store.claim({
      bridge: 'sim-bridge',
      region: 'sim',
      max: 100,
      now: at,
      leaseMs: LEASE_MS,
      agingIntervalMs: 10 * MINUTE_MS,
      criticalReserve: 1,
    });
    await store.report({
      bridge: 'sim-bridge',
      now: at,
      leaseMs: LEASE_MS,
      outputCapBytes: 1 << 20,
      started: claimed.map((a) => ({ taskId: a.taskId, attempt: a.attempt, at: at + 500 })),
      output: [],
      results: ended.map((r) => ({
        taskId: r.taskId,
        attempt: 1,
        at: r.endAt,
        exitCode: 0,
        signal: null,
        reason: null,
      })),
      running: [],
    });
    running.splice(0, running.length, ...running.filter((r) => r.endAt > at));
    for (const a of claimed) running.push({ taskId: a.taskId, endAt: at + 60_000 + random() * 120_000 });
    await store.history.sampleQueue(m, m + MINUTE_MS + 5_000);
  }
}

describe.runIf(process.env.REDIACC_SCREENSHOTS === '1')('queue history screenshots', () => {
  it('takes the overview chart and a slower-than-usual task', { timeout: 300_000 }, async () => {
    requireDashboardBuild();
    mkdirSync(OUT, { recursive: true });
    const t = await startTestServer({});
    const browser = await launchBrowser();
    try {
      await playHistory(t.server.store, 6);
      const nap = async (n: string) => {
        const id = (
          await t.api('POST', '/tasks', { machine: 'local', command: 'sleep "$NAP"', env: { NAP: n } })
        ).body.taskId as string;
        await waitFor(async () =>
          (await t.api('GET', `/tasks/${id}`)).body.status === 'completed' ? true : undefined,
        );
        return id;
      };
      for (const n of ['2', '2', '3', '2']) await nap(n);
      const slow = (
        await t.api('POST', '/tasks', { machine: 'local', command: 'sleep "$NAP"', env: { NAP: '600' } })
      ).body.taskId as string;
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`${t.url}/`);
      await page.getByRole('button', { name: 'API token' }).click();
      await page.getByLabel('API token').fill(ADMIN_TOKEN);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('figure.chart').waitFor();
      await page
        .locator('section[aria-labelledby="chart-h"]')
        .screenshot({ path: join(OUT, 'queue-history.png') });
      await page.goto(`${t.url}/tasks/${slow}`);
      const note = page.getByTestId('usual');
      await waitFor(
        async () => ((await note.getAttribute('data-verdict')) === 'SLOWER' ? true : undefined),
        30_000,
      );
      await page.screenshot({ path: join(OUT, 'task-slower.png') });
      await page.goto(`${t.url}/tasks?status=running&machine=local`);
      await page.getByTestId('usual-badge').first().waitFor();
      await page.screenshot({ path: join(OUT, 'tasks-slower.png') });
      await t.api('POST', `/tasks/${slow}/cancel`, {});
    } finally {
      await browser.close();
      await t.close();
    }
  });
});
