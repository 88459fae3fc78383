import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_STARTS, PG_USUAL_RUNS } from '../src/store/postgres/pg-history.js';
import { SQLITE_STARTS, SQLITE_USUAL_RUNS } from '../src/store/sqlite/sqlite-history.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { dropTestDatabase, testDatabaseUrl } from './helpers/store.js';

// The history's look-ups go through the indexes of migration 11, not through the task table.
afterAll(dropTestDatabase);

describe('sqlite: query plans', () => {
  it('reads the starts of a minute and earlier runs through their indexes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rediacc-plans-'));
    try {
      const store = new SqliteStore(join(dir, 'r.db'));
      await store.migrate();
      await store.close();
      const db = new Database(join(dir, 'r.db'), { readonly: true });
      const plan = (sql: string, ...args: unknown[]) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[])
          .map((r) => r.detail)
          .join('\n');
      const starts = plan(SQLITE_STARTS, { from: 0, to: 60_000 });
      expect(starts).toMatch(/USING INDEX tasks_started_at/);
      // The tasks that hold a slot through an index of active tasks; never a scan of the task table.
      expect(starts).not.toMatch(/SCAN tasks/);
      const runs = plan(SQLITE_USUAL_RUNS, 1, 'true', 'true', 0, 20);
      expect(runs).toMatch(/USING INDEX tasks_usual_runs/);
      // Ordered by the index: no sort step.
      expect(runs).not.toMatch(/TEMP B-TREE/);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('postgres: query plans', () => {
  it('reads the starts of a minute and earlier runs through their indexes', async () => {
    const c = new pg.Client({ connectionString: await testDatabaseUrl() });
    await c.connect();
    try {
      // The test tables are empty: plan as for a large table.
      await c.query('SET enable_seqscan = off');
      const plan = async (sql: string, args: unknown[]) =>
        (await c.query(`EXPLAIN ${sql}`, args)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      const starts = await plan(PG_STARTS, [0, 60_000]);
      expect(starts).toMatch(/tasks_started_at/);
      expect(starts).toMatch(/tasks_leases|tasks_status/);
      expect(starts).not.toMatch(/Seq Scan/);
      expect(await plan(PG_USUAL_RUNS, [['00000000-0000-0000-0000-000000000000'], 20])).toMatch(
        /Index Scan( Backward)? using tasks_usual_runs/,
      );
    } finally {
      await c.end();
    }
  });
});
