import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateStore } from '../src/store/migrate-store.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import type { NewSchedule } from '../src/store/schedule-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import {
  dropTestDatabase,
  emptyDatabase,
  openTestStore,
  STORES,
  T0,
  type TestStore,
} from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

const MIN = 60_000;

function schedule(name: string, overrides: Partial<NewSchedule> = {}): NewSchedule {
  return {
    scheduleId: randomUUID(),
    name,
    team: 'default',
    cron: '* * * * *',
    timezone: 'UTC',
    overlap: 'skip',
    catchUp: false,
    paused: false,
    task: { machine: 'm1', command: 'echo hi', team: 'default', env: { A: '1' } },
    nextRunAt: T0 + MIN,
    createdBy: 'admin@example.com',
    ...overrides,
  };
}

describe.each(STORES)('%s store: schedules', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
  });
  afterEach(async () => {
    await t.close();
  });

  it('creates, reads and lists schedules; names are unique; the team must exist', async () => {
    const created = await t.store.schedules.create(schedule('nightly', { catchUp: true }), T0);
    expect(created).toEqual({
      scheduleId: expect.any(String),
      name: 'nightly',
      team: 'default',
      cron: '* * * * *',
      timezone: 'UTC',
      overlap: 'skip',
      catchUp: true,
      paused: false,
      task: { machine: 'm1', command: 'echo hi', team: 'default', env: { A: '1' } },
      nextRunAt: T0 + MIN,
      pendingDueAt: null,
      pendingSince: null,
      lastRunAt: null,
      lastTaskIds: [],
      lastBatchId: null,
      lastDueAt: null,
      lastOutcome: null,
      lastDetail: null,
      createdBy: 'admin@example.com',
      createdAt: T0,
      updatedAt: T0,
    });
    expect(await t.store.schedules.get('nightly')).toEqual(created);
    expect(await t.store.schedules.get('nope')).toBeNull();
    await expect(t.store.schedules.create(schedule('nightly'), T0)).rejects.toMatchObject({
      code: 'SCHEDULE_EXISTS',
      statusCode: 409,
    });
    await expect(t.store.schedules.create(schedule('x', { team: 'ghost' }), T0)).rejects.toMatchObject({
      code: 'TEAM_NOT_FOUND',
      statusCode: 404,
    });
    await t.store.createTeam('other', T0);
    await t.store.schedules.create(schedule('b-other', { team: 'other' }), T0);
    await t.store.schedules.create(schedule('a-default'), T0);
    const names = async (f: Parameters<typeof t.store.schedules.list>[0]) =>
      (await t.store.schedules.list(f)).map((s) => s.name);
    expect(await names({})).toEqual(['a-default', 'b-other', 'nightly']);
    expect(await names({ team: 'other' })).toEqual(['b-other']);
    expect(await names({ teams: new Set(['default']) })).toEqual(['a-default', 'nightly']);
    expect(await names({ teams: new Set() })).toEqual([]);
    expect(await names({ teams: null })).toHaveLength(3);
  });

  it('pauses, resumes and deletes', async () => {
    await t.store.schedules.create(schedule('s'), T0);
    const paused = await t.store.schedules.setPaused('s', true, null, T0 + 5);
    expect(paused).toMatchObject({ paused: true, nextRunAt: null, updatedAt: T0 + 5 });
    expect(await t.store.schedules.due(T0 + 100 * MIN, 0, 10)).toEqual([]);
    const resumed = await t.store.schedules.setPaused('s', false, T0 + 7 * MIN, T0 + 6);
    expect(resumed).toMatchObject({ paused: false, nextRunAt: T0 + 7 * MIN });
    await expect(t.store.schedules.setPaused('gone', true, null, T0)).rejects.toMatchObject({
      code: 'SCHEDULE_NOT_FOUND',
    });
    await t.store.schedules.delete('s');
    expect(await t.store.schedules.get('s')).toBeNull();
    await expect(t.store.schedules.delete('s')).rejects.toMatchObject({
      code: 'SCHEDULE_NOT_FOUND',
      statusCode: 404,
    });
  });

  it('lists due schedules earliest first, without paused ones or pending runs', async () => {
    await t.store.schedules.create(schedule('later', { nextRunAt: T0 + 3 * MIN }), T0);
    await t.store.schedules.create(schedule('sooner', { nextRunAt: T0 + MIN }), T0);
    await t.store.schedules.create(schedule('future', { nextRunAt: T0 + 60 * MIN }), T0);
    await t.store.schedules.create(schedule('paused', { nextRunAt: null, paused: true }), T0);
    const due = await t.store.schedules.due(T0 + 3 * MIN, 0, 10);
    expect(due.map((s) => s.name)).toEqual(['sooner', 'later']);
    expect((await t.store.schedules.due(T0 + 3 * MIN, 0, 1)).map((s) => s.name)).toEqual(['sooner']);
    expect(await t.store.schedules.due(T0, 0, 10)).toEqual([]);
  });

  it('a claim is a compare-and-set on the next run time: of two, one wins', async () => {
    const s = await t.store.schedules.create(schedule('s'), T0);
    const claim = {
      scheduleId: s.scheduleId,
      expectedNextRunAt: T0 + MIN,
      nextRunAt: T0 + 2 * MIN,
      fireDueAt: T0 + MIN,
      skipped: null,
    };
    const results = await Promise.all([
      t.store.schedules.claim(claim, T0 + MIN + 10),
      t.store.schedules.claim(claim, T0 + MIN + 20),
      t.store.schedules.claim(claim, T0 + MIN + 30),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const after = await t.store.schedules.get('s');
    expect(after).toMatchObject({ nextRunAt: T0 + 2 * MIN, pendingDueAt: T0 + MIN });
    // Pending: not due again even when its next time has come, until the run is recorded.
    expect(await t.store.schedules.due(T0 + 2 * MIN, 0, 10)).toEqual([]);
    expect(await t.store.schedules.claim({ ...claim, expectedNextRunAt: T0 + 2 * MIN }, T0 + 2 * MIN)).toBe(
      false,
    );
    // Recording the run ends the pending state and keeps the tasks.
    const ids = [randomUUID(), randomUUID()];
    expect(
      await t.store.schedules.finishRun(
        s.scheduleId,
        T0 + MIN,
        { taskIds: ids, batchId: 'b-1', outcome: 'created', detail: null },
        T0 + MIN + 40,
      ),
    ).toBe(true);
    expect(await t.store.schedules.get('s')).toMatchObject({
      pendingDueAt: null,
      pendingSince: null,
      lastRunAt: T0 + MIN,
      lastTaskIds: ids,
      lastBatchId: 'b-1',
      lastDueAt: T0 + MIN,
      lastOutcome: 'created',
      lastDetail: null,
    });
    // Recording twice does nothing.
    expect(
      await t.store.schedules.finishRun(
        s.scheduleId,
        T0 + MIN,
        { taskIds: [], batchId: null, outcome: 'failed', detail: 'x' },
        T0 + MIN + 50,
      ),
    ).toBe(false);
    expect((await t.store.schedules.get('s'))?.lastOutcome).toBe('created');
  });

  it('a skip claim records the outcome and keeps the last run', async () => {
    const s = await t.store.schedules.create(schedule('s'), T0);
    await t.store.schedules.claim(
      {
        scheduleId: s.scheduleId,
        expectedNextRunAt: T0 + MIN,
        nextRunAt: T0 + 2 * MIN,
        fireDueAt: T0 + MIN,
        skipped: null,
      },
      T0 + MIN,
    );
    await t.store.schedules.finishRun(
      s.scheduleId,
      T0 + MIN,
      { taskIds: ['t-1'], batchId: null, outcome: 'created', detail: null },
      T0 + MIN,
    );
    const skipped = await t.store.schedules.claim(
      {
        scheduleId: s.scheduleId,
        expectedNextRunAt: T0 + 2 * MIN,
        nextRunAt: T0 + 3 * MIN,
        fireDueAt: null,
        skipped: { dueAt: T0 + 2 * MIN, outcome: 'overlap-skipped', detail: 'still running' },
      },
      T0 + 2 * MIN,
    );
    expect(skipped).toBe(true);
    expect(await t.store.schedules.get('s')).toMatchObject({
      nextRunAt: T0 + 3 * MIN,
      pendingDueAt: null,
      lastRunAt: T0 + MIN,
      lastTaskIds: ['t-1'],
      lastDueAt: T0 + 2 * MIN,
      lastOutcome: 'overlap-skipped',
      lastDetail: 'still running',
    });
    // A failed run keeps the last run's tasks too.
    await t.store.schedules.claim(
      {
        scheduleId: s.scheduleId,
        expectedNextRunAt: T0 + 3 * MIN,
        nextRunAt: T0 + 4 * MIN,
        fireDueAt: T0 + 3 * MIN,
        skipped: null,
      },
      T0 + 3 * MIN,
    );
    await t.store.schedules.finishRun(
      s.scheduleId,
      T0 + 3 * MIN,
      { taskIds: [], batchId: null, outcome: 'failed', detail: 'MACHINE_NOT_FOUND: gone' },
      T0 + 3 * MIN,
    );
    expect(await t.store.schedules.get('s')).toMatchObject({
      lastRunAt: T0 + MIN,
      lastTaskIds: ['t-1'],
      lastDueAt: T0 + 3 * MIN,
      lastOutcome: 'failed',
      lastDetail: 'MACHINE_NOT_FOUND: gone',
    });
  });

  it('a paused schedule cannot be claimed', async () => {
    const s = await t.store.schedules.create(schedule('s'), T0);
    await t.store.schedules.setPaused('s', true, T0 + MIN, T0);
    const claimed = await t.store.schedules.claim(
      {
        scheduleId: s.scheduleId,
        expectedNextRunAt: T0 + MIN,
        nextRunAt: T0 + 2 * MIN,
        fireDueAt: T0 + MIN,
        skipped: null,
      },
      T0 + MIN,
    );
    expect(claimed).toBe(false);
  });

  it('a stale pending run is listed and taken over once', async () => {
    const s = await t.store.schedules.create(schedule('s'), T0);
    await t.store.schedules.claim(
      {
        scheduleId: s.scheduleId,
        expectedNextRunAt: T0 + MIN,
        nextRunAt: T0 + 2 * MIN,
        fireDueAt: T0 + MIN,
        skipped: null,
      },
      T0 + MIN,
    );
    // Not stale yet: claimed after staleBefore.
    expect(await t.store.schedules.due(T0 + MIN + 5, T0 + MIN - 1, 10)).toEqual([]);
    const stale = await t.store.schedules.due(T0 + MIN + 5, T0 + MIN, 10);
    expect(stale.map((x) => [x.name, x.pendingDueAt])).toEqual([['s', T0 + MIN]]);
    const takes = await Promise.all([
      t.store.schedules.retake(s.scheduleId, T0 + MIN, T0 + MIN, T0 + 2 * MIN),
      t.store.schedules.retake(s.scheduleId, T0 + MIN, T0 + MIN, T0 + 2 * MIN),
    ]);
    expect(takes.filter(Boolean)).toHaveLength(1);
    expect((await t.store.schedules.get('s'))?.pendingSince).toBe(T0 + 2 * MIN);
    expect(await t.store.schedules.retake(s.scheduleId, T0 + 5 * MIN, T0 + 3 * MIN, T0 + 3 * MIN)).toBe(
      false,
    );
  });

  it('keeps at most 100 task ids of a run', async () => {
    const s = await t.store.schedules.create(schedule('s'), T0);
    await t.store.schedules.claim(
      {
        scheduleId: s.scheduleId,
        expectedNextRunAt: T0 + MIN,
        nextRunAt: T0 + 2 * MIN,
        fireDueAt: T0 + MIN,
        skipped: null,
      },
      T0 + MIN,
    );
    const ids = Array.from({ length: 150 }, () => randomUUID());
    await t.store.schedules.finishRun(
      s.scheduleId,
      T0 + MIN,
      { taskIds: ids, batchId: 'b', outcome: 'created', detail: null },
      T0 + MIN,
    );
    expect((await t.store.schedules.get('s'))?.lastTaskIds).toEqual(ids.slice(0, 100));
  });

  it('deleting a team deletes its schedules', async () => {
    await t.store.createTeam('gone', T0);
    await t.store.schedules.create(schedule('of-gone', { team: 'gone' }), T0);
    await t.store.deleteTeam('gone');
    expect(await t.store.schedules.get('of-gone')).toBeNull();
  });
});

describe('migrate-store', () => {
  it('copies schedules from SQLite into PostgreSQL unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rediacc-sched-migrate-'));
    const db = await emptyDatabase();
    try {
      const src = new SqliteStore(join(dir, 'rediacc.db'));
      await src.migrate();
      await src.createTeam('default', T0);
      const made = await src.schedules.create(schedule('moved', { catchUp: true, overlap: 'allow' }), T0);
      await src.schedules.create(schedule('paused', { paused: true, nextRunAt: null }), T0);
      await src.close();
      await migrateStore(join(dir, 'rediacc.db'), db.url);
      const dst = new PostgresStore(db.url, { poolSize: 1 });
      try {
        expect(await dst.schedules.get('moved')).toEqual(made);
        expect(await dst.schedules.get('paused')).toMatchObject({ paused: true, catchUp: false });
      } finally {
        await dst.close();
      }
    } finally {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
