import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChainVerifier } from '../src/audit/chain.js';
import type { Assignment, Priority } from '../src/core/types.js';
import { PG_MIGRATIONS } from '../src/store/postgres/pg-migrations.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { AuditEntry } from '../src/store/store.js';
import {
  claimRequest,
  dropTestDatabase,
  emptyDatabase,
  newTask,
  openStore,
  result,
  T0,
  testDatabaseUrl,
} from './helpers/store.js';

/**
 * Two replicas: two PostgresStore instances (two pools) on one database,
 * doing at once what several servers behind a load balancer do.
 */
let a: PostgresStore;
let b: PostgresStore;
let url: string;

afterAll(dropTestDatabase);

beforeEach(async () => {
  await (await openStore('postgres')).dispose(); // the test file's database, migrated and empty
  url = await testDatabaseUrl();
  a = new PostgresStore(url, { poolSize: 4 });
  b = new PostgresStore(url, { poolSize: 4 });
});

afterEach(async () => {
  await Promise.all([a.close(), b.close()]);
});

const MACHINES = 16;
const CONCURRENCY = 6;
const TASKS = 2000;
const SELECTED = 200;
const ROLLING = 150;
const ROLLING_MAX = 5;

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('two replicas on one PostgreSQL database', () => {
  it(`claim ${TASKS} waiting tasks at once: each exactly once, no machine or batch overfilled, counters exact`, async () => {
    await a.ensureRegion('default', T0);
    await a.createTeam('default', T0);
    const bridges = ['b1', 'b2', 'b3', 'b4'];
    for (const name of bridges) await a.upsertBridge(name, 'default', T0);
    const machines = Array.from({ length: MACHINES }, (_, i) => `m${String(i).padStart(2, '0')}`);
    for (const [i, name] of machines.entries()) {
      await b.createMachine(
        {
          name,
          team: 'default',
          region: 'default',
          transport: 'local',
          concurrency: CONCURRENCY,
          labels: { pool: i % 2 === 0 ? 'even' : 'odd' },
          host: null,
          port: null,
          user: null,
        },
        T0,
      );
    }
    // Direct tasks round-robin over the machines, a rolling batch among them, and tasks placed by a selector.
    const batchId = randomUUID();
    const direct = Array.from({ length: TASKS - SELECTED }, (_, i) =>
      newTask(machines[i % MACHINES] as string, {
        priority: ((i % 5) + 1) as Priority,
        batchId: i < ROLLING ? batchId : null,
      }),
    );
    const selected = Array.from({ length: SELECTED }, (_, i) => ({
      ...newTask('', { priority: 3 }),
      selector: { team: 'default', region: 'default', labels: { pool: i % 2 === 0 ? 'even' : 'odd' } },
    }));
    await a.insertTasks(direct.slice(0, ROLLING), T0, {
      batchId,
      maxRunning: ROLLING_MAX,
      maxFailures: null,
    });
    await Promise.all([
      a.insertTasks(direct.slice(ROLLING, 1000), T0),
      b.insertTasks(direct.slice(1000), T0),
      a.insertTasks(selected, T0),
    ]);
    expect((await b.queueStats(T0)).pending).toMatchObject({ 1: 360, 2: 360, 3: 560, 4: 360, 5: 360 });

    const inBatch = new Set(direct.slice(0, ROLLING).map((t) => t.taskId));
    const claims = new Map<string, number>();
    const running = new Map<string, Set<string>>(); // machine → tasks handed out and not yet reported
    const batchRunning = new Set<string>();
    let claimedTotal = 0;
    let maxBatch = 0;
    const deadline = Date.now() + 50_000;

    let maxOnMachine = 0;
    /** Claims, holds what it got while it claims again (the tasks "run"), then reports them done. */
    const worker = async (store: PostgresStore, bridge: string) => {
      let now = T0 + 1;
      let held: Assignment[] = [];
      const finish = async (done: Assignment[]) => {
        if (done.length === 0) return;
        // Forgotten before the report: the test's view never holds more than the store counts.
        for (const t of done) {
          running.get(t.machine.name)?.delete(t.taskId);
          batchRunning.delete(t.taskId);
        }
        await store.report({
          bridge,
          now,
          leaseMs: 600_000,
          outputCapBytes: 1024,
          started: done.map((t) => ({ taskId: t.taskId, attempt: t.attempt, at: now })),
          output: done.slice(0, 5).map((t) => ({
            taskId: t.taskId,
            attempt: t.attempt,
            chunk: 0,
            stream: 'stdout' as const,
            at: now,
            data: `${t.taskId}\n`,
          })),
          results: done.map((t) => result(t.taskId, t.attempt, now, 0)),
          running: [],
        });
      };
      while (claimedTotal < TASKS && Date.now() < deadline) {
        now += 1;
        const got = await store.claim(claimRequest(now, { bridge, max: 50, criticalReserve: 0 }));
        for (const t of got) {
          claims.set(t.taskId, (claims.get(t.taskId) ?? 0) + 1);
          const slots = running.get(t.machine.name) ?? new Set<string>();
          slots.add(t.taskId);
          running.set(t.machine.name, slots);
          maxOnMachine = Math.max(maxOnMachine, slots.size);
          if (inBatch.has(t.taskId)) {
            batchRunning.add(t.taskId);
            maxBatch = Math.max(maxBatch, batchRunning.size);
          }
        }
        claimedTotal += got.length;
        await finish(held);
        held = got;
        if (got.length === 0) await new Promise((r) => setTimeout(r, 2));
      }
      await finish(held);
    };
    // The periodic duties of both replicas run meanwhile (nothing is due: they only take their locks).
    let sweeping = true;
    const sweeper = async (store: PostgresStore) => {
      while (sweeping) {
        await store.expireLeases(T0 + 10);
        await store.promoteDueRetries(T0 + 10);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const sweeps = [sweeper(a), sweeper(b)];
    await Promise.all([worker(a, 'b1'), worker(a, 'b2'), worker(b, 'b3'), worker(b, 'b4')]);
    sweeping = false;
    await Promise.all(sweeps);

    expect(claimedTotal).toBe(TASKS);
    expect(claims.size).toBe(TASKS);
    expect([...claims.values()].every((n) => n === 1)).toBe(true);
    expect(maxOnMachine).toBeLessThanOrEqual(CONCURRENCY);
    expect(maxBatch).toBeLessThanOrEqual(ROLLING_MAX);
    const tasks = await a.listTasks({ limit: TASKS + 10 });
    expect(tasks).toHaveLength(TASKS);
    expect(tasks.every((t) => t.status === 'completed' && t.attempts === 1)).toBe(true);
    const stats = await b.queueStats(T0);
    expect(stats).toMatchObject({
      pending: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 },
      retrying: 0,
      assigned: 0,
      running: 0,
      cancelling: 0,
      oldestPendingAgeMs: null,
      busiestMachines: [],
    });
    for (const m of await a.listMachines({})) expect(m).toMatchObject({ running: 0, pending: 0 });
    for (const br of await b.listBridges()) expect(br.running).toBe(0);
    expect(await query('SELECT running FROM batch_limits')).toEqual([{ running: 0 }]);
    // The counters agree with a scan of the task table.
    expect(await query(`SELECT * FROM queue_counters WHERE n <> 0`)).toEqual([]);
    const byMachine = await query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM tasks GROUP BY machine_id HAVING COUNT(*) > 0 ORDER BY machine_id`,
    );
    expect(byMachine).toHaveLength(MACHINES);
  });

  it('claims, failures, retries, cancels and sweeps at once leave every count exact', async () => {
    await a.ensureRegion('default', T0);
    await a.createTeam('default', T0);
    for (const name of ['b1', 'b2']) await a.upsertBridge(name, 'default', T0);
    for (let i = 0; i < 6; i += 1) {
      await a.createMachine(
        {
          name: `m${i}`,
          team: 'default',
          region: 'default',
          transport: 'local',
          concurrency: 4,
          labels: {},
          host: null,
          port: null,
          user: null,
        },
        T0,
      );
    }
    const tasks = Array.from({ length: 400 }, (_, i) =>
      newTask(`m${i % 6}`, { priority: ((i % 5) + 1) as Priority, retryCount: i % 3 }),
    );
    await Promise.all([a.insertTasks(tasks.slice(0, 200), T0), b.insertTasks(tasks.slice(200), T0)]);
    const attempts = new Map<string, number>();
    const idle = async (store: PostgresStore) => {
      const s = await store.queueStats(T0);
      return (
        Object.values(s.pending).every((n) => n === 0) &&
        s.retrying + s.assigned + s.running + s.cancelling === 0
      );
    };
    const deadline = Date.now() + 40_000;
    const worker = async (store: PostgresStore, bridge: string) => {
      let held: Assignment[] = [];
      let now = T0 + 1;
      while (Date.now() < deadline) {
        now += 1;
        const got = await store.claim(claimRequest(now, { bridge, max: 20 }));
        for (const t of got) {
          const key = `${t.taskId}|${t.attempt}`;
          attempts.set(key, (attempts.get(key) ?? 0) + 1);
        }
        if (held.length > 0) {
          // Every third attempt fails: retried while the task has retries left.
          await store.report({
            bridge,
            now,
            leaseMs: 600_000,
            outputCapBytes: 1024,
            started: [],
            output: [],
            results: held.map((t, i) => result(t.taskId, t.attempt, now, i % 3 === 0 ? 1 : 0)),
            running: [],
          });
        }
        held = got;
        if (got.length === 0) {
          if (await idle(store)) return;
          await new Promise((r) => setTimeout(r, 2));
        }
      }
    };
    let busy = true;
    const canceller = async (store: PostgresStore) => {
      for (let i = 0; busy && i < 400; i += 7) {
        await store.cancelTask(tasks[i]?.taskId as string, T0 + 5).catch((err: unknown) => {
          expect(err).toMatchObject({ code: 'TASK_FINISHED' });
        });
      }
    };
    const sweeper = async (store: PostgresStore) => {
      while (busy) {
        await store.promoteDueRetries(T0 + 1_000_000);
        await store.expireLeases(T0 + 10);
        await new Promise((r) => setTimeout(r, 3));
      }
    };
    const side = [canceller(a), canceller(b), sweeper(a), sweeper(b)];
    await Promise.all([worker(a, 'b1'), worker(b, 'b2')]);
    busy = false;
    await Promise.all(side);

    expect(await idle(a)).toBe(true);
    expect([...attempts.values()].every((n) => n === 1)).toBe(true);
    const final = await b.listTasks({ limit: 1000 });
    expect(final.every((t) => ['completed', 'failed', 'cancelled'].includes(t.status))).toBe(true);
    expect(final.filter((t) => t.status === 'cancelled').length).toBeGreaterThan(0);
    expect(final.filter((t) => t.status === 'failed').length).toBeGreaterThan(0);
    for (const m of await a.listMachines({})) expect(m).toMatchObject({ running: 0, pending: 0 });
    for (const br of await a.listBridges()) expect(br.running).toBe(0);
    expect(await query(`SELECT * FROM queue_counters WHERE n <> 0`)).toEqual([]);
  });

  it('servers that start at once apply each migration once', async () => {
    const db = await emptyDatabase();
    const servers = Array.from({ length: 4 }, () => new PostgresStore(db.url, { poolSize: 1 }));
    try {
      await Promise.all(servers.map((s) => s.migrate()));
      await servers[0]?.migrate();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const applied = await c.query<{ id: number }>('SELECT id FROM schema_migrations ORDER BY id');
        expect(applied.rows.map((r) => r.id)).toEqual(PG_MIGRATIONS.map((m) => m.id));
      } finally {
        await c.end();
      }
      expect(await servers[1]?.listTeams()).toEqual([]);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
      await db.drop();
    }
  });

  it('audit appends from both replicas in parallel keep one valid chain', async () => {
    const entry = (actor: string, i: number): AuditEntry => ({
      at: T0 + i + 0.5,
      actor,
      action: 'task.create',
      target: `t${i}`,
      team: 'default',
      source: '127.0.0.1',
      outcome: 'ok',
      details: { i, nested: { z: 1, a: [1, 2] } },
    });
    const appender = async (store: PostgresStore, actor: string) => {
      let written = 0;
      for (let i = 0; i < 60; i += 1) {
        const n = (i % 3) + 1;
        await store.audit.append(Array.from({ length: n }, (_, k) => entry(actor, i * 10 + k)));
        written += n;
      }
      return written;
    };
    const written = await Promise.all([
      appender(a, 'a1'),
      appender(a, 'a2'),
      appender(b, 'b1'),
      appender(b, 'b2'),
    ]);
    const total = written.reduce((x, y) => x + y, 0);

    const verifier = new ChainVerifier();
    let afterId = 0;
    for (;;) {
      const page = await b.audit.list({ afterId, limit: 100 });
      if (page.length === 0) break;
      expect(verifier.feed(page)).toBe(true);
      afterId = page.at(-1)?.id ?? afterId;
    }
    const check = verifier.result();
    expect(check).toMatchObject({ ok: true, checked: total });
    expect(await a.audit.head()).toEqual({ id: total, hash: check.ok ? check.lastHash : '' });
  });
});
