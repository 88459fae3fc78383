import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/start.js';
import { startPrivateCluster } from '../helpers/pg-cluster.js';
import { ADMIN_TOKEN, waitFor } from '../helpers/server.js';

// PostgreSQL restarted under load: requests answer 503 meanwhile, the server
// recovers by itself, and no accepted task is lost or run twice.
describe('PostgreSQL restart under load', () => {
  let cluster: Awaited<ReturnType<typeof startPrivateCluster>>;
  let server: RunningServer;
  const out = join(mkdtempSync(join(tmpdir(), 'rediacc-pgr-')), 'ids');

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    server = await startServer({
      dataDir: mkdtempSync(join(tmpdir(), 'rediacc-pgr-data-')),
      port: 0,
      adminToken: ADMIN_TOKEN,
      masterPassword: 'pg restart test master password',
      databaseUrl: cluster.url,
      logger: pino({ level: 'silent' }),
      healthIntervalMs: 0,
      settings: { leaseMs: 4000 },
    });
    writeFileSync(out, '');
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    cluster?.close();
  });

  /** Creates tasks like the CLI does: one Idempotency-Key per request, retried on 503 and lost connections. */
  const create = async (n: number, key: string): Promise<string[]> => {
    const body = JSON.stringify({
      tasks: Array.from({ length: n }, () => ({
        machine: 'local',
        command: `echo $REDIACC_TASK_ID >> ${out}`,
        retryCount: 1,
      })),
    });
    for (let attempt = 0; attempt < 60; attempt += 1) {
      try {
        const res = await fetch(`${server.url}/api/v1/tasks`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${ADMIN_TOKEN}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body,
        });
        if (res.status === 201) return ((await res.json()) as { taskIds: string[] }).taskIds;
        expect([503]).toContain(res.status);
        expect(res.headers.get('retry-after')).toBe('1');
      } catch {
        // Connection trouble: retry with the same key.
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('could not create tasks');
  };

  it('keeps every accepted task, runs each once, and recovers without a server restart', async () => {
    await fetch(`${server.url}/api/v1/machines/local`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ concurrency: 8 }),
    });
    const accepted: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      if (i === 4) cluster.restart();
      accepted.push(...(await create(30, `load-${i}`)));
    }
    expect(accepted).toHaveLength(300);
    await waitFor(
      async () => {
        const res = await fetch(`${server.url}/api/v1/queue/stats`, {
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        });
        if (res.status !== 200) return undefined;
        const s = (await res.json()) as {
          pending: Record<string, number>;
          running: number;
          assigned: number;
          retrying: number;
        };
        const waiting =
          Object.values(s.pending).reduce((a, b) => a + b, 0) + s.running + s.assigned + s.retrying;
        return waiting === 0 ? true : undefined;
      },
      90_000,
      250,
    );
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    const counts = new Map<string, number>();
    for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
    expect(accepted.filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect(counts.size).toBe(300);
    const health = await fetch(`${server.url}/api/v1/health`);
    expect(health.status).toBe(200);
  }, 150_000);
});
