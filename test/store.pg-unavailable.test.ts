import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../src/core/errors.js';
import { isUnavailable, PgDb, storeError } from '../src/store/postgres/pg-connection.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import {
  claimRequest,
  dropTestDatabase,
  openTestStore,
  T0,
  type TestStore,
  testDatabaseUrl,
} from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);
beforeEach(async () => {
  t = await openTestStore('postgres');
});
afterEach(async () => {
  await t.close();
});

const unavailable = { code: 'STORE_UNAVAILABLE', statusCode: 503 };

async function terminate(applicationName: string): Promise<number> {
  const c = new pg.Client({ connectionString: await testDatabaseUrl() });
  await c.connect();
  try {
    const r = await c.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()`,
      [applicationName],
    );
    return r.rowCount ?? 0;
  } finally {
    await c.end();
  }
}

describe('a PostgreSQL store that cannot reach its database', () => {
  it('answers STORE_UNAVAILABLE (503) when the server refuses connections', async () => {
    const store = new PostgresStore('postgres://postgres@127.0.0.1:1/rediacc', {
      connectionTimeoutMs: 2_000,
    });
    try {
      await expect(store.getTeam('default')).rejects.toMatchObject(unavailable);
      await expect(store.claim(claimRequest(T0))).rejects.toMatchObject(unavailable);
      await expect(
        store.audit.append([
          {
            at: T0,
            actor: 'a',
            action: 'x',
            target: null,
            team: null,
            source: null,
            outcome: 'ok',
            details: {},
          },
        ]),
      ).rejects.toBeInstanceOf(AppError);
      await expect(store.migrate()).rejects.toMatchObject(unavailable);
    } finally {
      await store.close();
    }
  });

  it('answers STORE_UNAVAILABLE when its connection dies in a transaction, and recovers', async () => {
    const db = new PgDb(await testDatabaseUrl(), { poolSize: 1 });
    try {
      await expect(
        db.tx((q) => q.run('SELECT pg_terminate_backend(pg_backend_pid())')),
      ).rejects.toMatchObject(unavailable);
      expect(await db.one<{ n: number }>('SELECT 1 AS n')).toEqual({ n: 1 });
    } finally {
      await db.close();
    }
  });

  it('replaces pooled connections the server closed while idle, without an error', async () => {
    await t.machine('m1');
    expect(await terminate('rediacc')).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 50));
    expect((await t.store.getMachine('m1'))?.name).toBe('m1');
    expect(await t.add('m1')).toBeTypeOf('string');
  });

  it('tells lost connections from request errors', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08006', '08001', '08003']) {
      expect(isUnavailable(Object.assign(new Error('x'), { code }))).toBe(true);
    }
    expect(isUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    for (const code of ['23505', '40P01', '42P01']) {
      expect(isUnavailable(Object.assign(new Error('Connection terminated'), { code }))).toBe(false);
    }
    const err = storeError(Object.assign(new Error('the database system is starting up'), { code: '57P03' }));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ ...unavailable, message: expect.stringContaining('starting up') });
    const other = Object.assign(new Error('duplicate key'), { code: '23505' });
    expect(storeError(other)).toBe(other);
  });
});
