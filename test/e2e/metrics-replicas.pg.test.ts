import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/start.js';
import { parseMetrics, rawValue, total } from '../helpers/prometheus.js';
import { ADMIN_TOKEN, waitFor } from '../helpers/server.js';
import { emptyDatabase } from '../helpers/store.js';

// Two replicas on one PostgreSQL database, each scraped: the queue gauges are
// the shared store's (the same on both), the attempt counters each replica's own.
describe('/metrics on replicas', () => {
  const replicas: RunningServer[] = [];
  let db: { url: string; drop(): Promise<void> };
  const api = async (r: RunningServer, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${r.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers
    return { status: res.status, body: (await res.json()) as any };
  };
  const scrape = async (r: RunningServer) => {
    const res = await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    db = await emptyDatabase();
    replicas.push(
      ...(await Promise.all(
        [0, 1].map((i) =>
          startServer({
            dataDir: mkdtempSync(join(tmpdir(), 'rediacc-replica-')),
            port: 0,
            adminToken: ADMIN_TOKEN,
            masterPassword: 'replica test master password',
            databaseUrl: db.url,
            logger: pino({ level: 'silent' }),
            healthIntervalMs: 0,
            // Only the first replica runs a bridge: every attempt is applied there.
            bridge: i === 0,
          }),
        ),
      )),
    );
  }, 60_000);
  afterAll(async () => {
    for (const r of replicas) await r.close();
    await db?.drop();
  });

  it('both replicas report the store’s pending count; the counters are the applying replica’s', async () => {
    const [a, b] = replicas as [RunningServer, RunningServer];
    expect((await api(b, 'POST', '/machines', { name: 'idle-1', concurrency: 1 })).status).toBe(201);
    // No bridge serves region `far`: these wait for good.
    expect((await api(b, 'POST', '/regions', { name: 'far' })).status).toBe(201);
    expect((await api(b, 'POST', '/machines', { name: 'far-1', region: 'far' })).status).toBe(201);
    const waiting = Array.from({ length: 7 }, (_, i) => ({
      machine: 'far-1',
      command: 'true',
      priority: 1 + (i % 2),
    }));
    expect((await api(b, 'POST', '/tasks', { tasks: waiting })).status).toBe(201);
    const ran = await api(a, 'POST', '/tasks', {
      tasks: [1, 2, 3].map(() => ({ machine: 'idle-1', command: 'true' })),
    });
    expect(ran.status).toBe(201);
    await waitFor(async () => {
      const s = await api(b, 'GET', '/queue/stats');
      return s.body.pendingTotal === 7 && s.body.running === 0 ? true : undefined;
    });

    const [ta, tb] = [await scrape(a), await scrape(b)];
    const stats = (await api(a, 'GET', '/queue/stats')).body;
    for (const text of [ta, tb]) {
      const m = parseMetrics(text);
      expect(total(m, 'rediacc_tasks_pending')).toBe(7);
      expect(total(m, 'rediacc_tasks_pending', { priority: '1' })).toBe(stats.pending['1']);
      expect(total(m, 'rediacc_tasks_pending', { priority: '2' })).toBe(stats.pending['2']);
    }
    // The replica with the bridge applied the three attempts; the other one counted none.
    const done = await waitFor(async () => {
      const text = await scrape(a);
      return rawValue(text, 'rediacc_task_attempts_total', { status: 'completed' }) === 3 ? text : undefined;
    });
    expect(rawValue(done, 'rediacc_task_wait_seconds_count', { team: 'default', priority: '3' })).toBe(3);
    expect(rawValue(await scrape(b), 'rediacc_task_attempts_total', { status: 'completed' })).toBeUndefined();
  });
});
