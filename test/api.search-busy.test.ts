import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { emptyDatabase } from './helpers/store.js';
import { userWithRoles } from './helpers/teams.js';

// At most 2 output searches run at once per server: a third is refused with
// 429 SEARCH_BUSY and Retry-After. Held deterministically: the test locks the
// output table on PostgreSQL, so two searches wait inside the server.

describe('GET /output/search beyond two at once', () => {
  let t: TestServer;
  let drop: () => Promise<void>;
  let url: string;
  let viewer: string;

  const search = (q: string, token = ADMIN_TOKEN) =>
    fetch(`${t.url}/api/v1/output/search?q=${encodeURIComponent(q)}`, {
      headers: { authorization: `Bearer ${token}` },
    });

  beforeAll(async () => {
    const db = await emptyDatabase();
    url = db.url;
    drop = db.drop;
    t = await startTestServer({ databaseUrl: url });
    viewer = await userWithRoles(t, 'viewer@example.com', { default: 'viewer' });
    expect((await t.api('POST', '/machines', { name: 'sb-1' })).status).toBe(201);
    const created = await t.api('POST', '/tasks', { machine: 'sb-1', command: 'echo a needle here' });
    expect(created.status).toBe(201);
    await waitFor(async () =>
      (await t.api('GET', `/tasks/${created.body.taskId}`)).body.status === 'completed' ? true : undefined,
    );
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it('refuses a third search while two run, says when to retry, and serves again once they end', async () => {
    const lock = new pg.Client({ connectionString: url });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE output_chunks IN ACCESS EXCLUSIVE MODE');
      const held = [search('needle'), search('needle', viewer)];
      // Both are inside the server, waiting for the table.
      await waitFor(async () => {
        const r = await lock.query(
          `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
           WHERE c.relname = 'output_chunks' AND NOT l.granted`,
        );
        return r.rows[0].n === 2 ? true : undefined;
      });
      for (const token of [ADMIN_TOKEN, viewer]) {
        const busy = await search('needle', token);
        expect(busy.status).toBe(429);
        expect(busy.headers.get('retry-after')).toBe('2');
        expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('SEARCH_BUSY');
      }
      // Other reads are not held back.
      expect((await t.api('GET', '/tasks?limit=1')).status).toBe(200);
      await lock.query('COMMIT');
      for (const res of await Promise.all(held)) {
        expect(res.status).toBe(200);
        const body = (await res.json()) as { tasks: unknown[]; limits: { bytes: number } };
        expect(body.tasks).toHaveLength(1);
        expect(body.limits.bytes).toBe(64 * 1024 * 1024);
      }
      expect((await search('needle')).status).toBe(200);
    } finally {
      await lock.query('ROLLBACK').catch(() => {});
      await lock.end();
    }
  }, 60_000);
});
