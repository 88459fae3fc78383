import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/start.js';
import { ADMIN_TOKEN, waitFor } from '../helpers/server.js';
import { emptyDatabase } from '../helpers/store.js';

// Two control-plane replicas on one PostgreSQL database, each with its embedded bridge.
describe('replicas on PostgreSQL', () => {
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

  beforeAll(async () => {
    db = await emptyDatabase();
    // Started together: migrations and the first-start set-up must not trip over each other.
    replicas.push(
      ...(await Promise.all(
        [0, 1].map(() =>
          startServer({
            dataDir: mkdtempSync(join(tmpdir(), 'rediacc-replica-')),
            port: 0,
            adminToken: ADMIN_TOKEN,
            masterPassword: 'replica test master password',
            databaseUrl: db.url,
            logger: pino({ level: 'silent' }),
            healthIntervalMs: 0,
          }),
        ),
      )),
    );
  }, 60_000);
  afterAll(async () => {
    for (const r of replicas) await r.close();
    await db?.drop();
  });

  it('a task created on one replica runs, and its output is followed live through the other', async () => {
    const [a, b] = replicas as [RunningServer, RunningServer];
    const created = await api(a, 'POST', '/tasks', {
      machine: 'local',
      command: 'for i in 1 2 3; do echo line$i; sleep 0.2; done',
    });
    expect(created.status).toBe(201);
    const res = await fetch(`${b.url}/api/v1/tasks/${created.body.taskId}/logs?follow=1`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const text = await res.text();
    expect(text).toContain('line1');
    expect(text).toContain('line3');
    expect(text).toContain('event: end');
    const bridges = (await api(b, 'GET', '/bridges')).body as { name: string }[];
    expect(bridges.filter((x) => x.name.startsWith('embedded-'))).toHaveLength(2);
  });

  it('a batch is spread over both replicas’ bridges, every task exactly once', async () => {
    const [a, b] = replicas as [RunningServer, RunningServer];
    expect((await api(a, 'PATCH', '/machines/local', { concurrency: 8 })).status).toBe(200);
    const created = await api(b, 'POST', '/tasks', {
      tasks: Array.from({ length: 200 }, (_, i) => ({ machine: 'local', command: `echo ${i}` })),
    });
    const done = await waitFor(async () => {
      const batch = (await api(a, 'GET', `/batches/${created.body.batchId}`)).body;
      return batch.done === 200 ? batch : undefined;
    }, 60_000);
    expect(done.counts).toEqual({ completed: 200 });
    const tasks = (await api(a, 'GET', `/tasks?batch=${created.body.batchId}&limit=1000`)).body as {
      attempts: number;
    }[];
    expect(tasks.every((t) => t.attempts === 1)).toBe(true);
    const stats = (await api(b, 'GET', '/queue/stats')).body;
    expect(stats.running + stats.assigned + stats.pending[3]).toBe(0);
    expect((await api(b, 'GET', '/audit/verify')).body.ok).toBe(true);
  }, 90_000);
});
