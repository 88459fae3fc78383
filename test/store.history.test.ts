import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Priority } from '../src/core/types.js';
import { MINUTE_MS, mergeTeams } from '../src/history/queue-samples.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import {
  dropTestDatabase,
  openTestStore,
  result,
  STORES,
  T0,
  type TestStore,
  testDatabaseUrl,
} from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

/** A minute well after T0, on a minute boundary. */
const M = Math.ceil(T0 / MINUTE_MS) * MINUTE_MS + 10 * MINUTE_MS;
const S = 1_000;

describe.each(STORES)('%s store: queue history', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.store.createTeam('other', T0);
    await t.machine('web-1', 5);
    await t.machine('db-1', 5, { team: 'other' });
  });
  afterEach(async () => {
    await t.close();
  });

  const add = (machine: string, priority: number, at: number, extra = {}) =>
    t.add(machine, { priority: priority as Priority, ...extra }, at);

  /**
   * In minute M: web-1 starts two tasks that waited 40 s, db-1 one that waited
   * 50 s and ends; one of web-1 stays assigned, one fails into a retry delay,
   * and three new tasks wait at the end of the minute.
   */
  async function busyMinute() {
    const w1 = await add('web-1', 3, M - 30 * S);
    const w2 = await add('web-1', 3, M - 30 * S);
    const w3 = await add('web-1', 3, M - 30 * S);
    const w4 = await add('web-1', 3, M - 30 * S, { retryCount: 2, retryDelaySeconds: 600 });
    const d1 = await add('db-1', 1, M - 30 * S);
    expect((await t.claim(M + 5 * S)).sort()).toEqual([w1, w2, w3, w4, d1].sort());
    // w4 started before M: not one of M's starts.
    await t.report(M - 1 * S, { started: [{ taskId: w4, attempt: 1, at: M - 1 * S }] });
    await t.report(M + 10 * S, {
      started: [
        { taskId: w1, attempt: 1, at: M + 10 * S },
        { taskId: w2, attempt: 1, at: M + 10 * S },
      ],
    });
    await t.report(M + 20 * S, { started: [{ taskId: d1, attempt: 1, at: M + 20 * S }] });
    await t.report(M + 25 * S, { results: [result(w4, 1, M + 25 * S, 1)] });
    // d1 has ended by the end of the minute: its start still counts.
    await t.report(M + 30 * S, { results: [result(d1, 1, M + 30 * S, 0)] });
    await add('web-1', 2, M + 30 * S);
    await add('web-1', 2, M + 35 * S);
    await add('db-1', 5, M + 40 * S);
    return { w1, w2, w3, w4, d1 };
  }

  it('writes a minute once: the all-teams row and one per busy team, with real waits', async () => {
    await busyMinute();
    expect(await t.store.history.sampleQueue(M, M + 65 * S)).toBe(true);
    expect(await t.store.history.sampleQueue(M, M + 70 * S)).toBe(false);

    const all = await t.store.history.queueSamples({
      since: M - MINUTE_MS,
      until: M + MINUTE_MS,
      teams: null,
    });
    expect(all.minutes).toEqual([M]);
    expect(all.rows).toEqual([
      {
        teamId: 0,
        minute: M,
        takenAt: M + 65 * S,
        pending: [0, 2, 0, 0, 1],
        // w1, w2 running and w3 assigned hold slots; w4 waits for its retry.
        running: 3,
        retrying: 1,
        started: 3,
        waitP50Ms: 40_000,
        waitP95Ms: 50_000,
        waitMaxMs: 50_000,
        // The oldest waiting task was queued at M + 30 s.
        oldestWaitMs: 35_000,
      },
    ]);

    const mine = await t.store.history.queueSamples({
      since: M,
      until: M + MINUTE_MS,
      teams: new Set(['default']),
    });
    expect(mine.minutes).toEqual([M]);
    expect(
      mine.rows.map((r) => [r.pending, r.running, r.retrying, r.started, r.waitP95Ms, r.oldestWaitMs]),
    ).toEqual([[[0, 2, 0, 0, 0], 3, 1, 2, 40_000, 35_000]]);
    const other = await t.store.history.queueSamples({
      since: M,
      until: M + MINUTE_MS,
      teams: new Set(['other']),
    });
    expect(other.rows.map((r) => [r.pending, r.running, r.started, r.waitP50Ms, r.oldestWaitMs])).toEqual([
      [[0, 0, 0, 0, 1], 0, 1, 50_000, 25_000],
    ]);
    // A team the caller names that does not exist: sampled minutes, no rows (nothing to add up).
    const none = await t.store.history.queueSamples({
      since: M,
      until: M + MINUTE_MS,
      teams: new Set(['nope']),
    });
    expect(none).toEqual({ minutes: [M], rows: [] });

    // Both teams together: the counts add up to the all-teams row's; percentiles are bounded, not exact.
    const both = await t.store.history.queueSamples({
      since: M,
      until: M + MINUTE_MS,
      teams: new Set(['default', 'other']),
    });
    const [p] = mergeTeams(both.minutes, both.rows);
    expect(p).toMatchObject({ pendingTotal: 3, running: 3, retrying: 1, started: 3, waitMaxMs: 50_000 });
    expect(p?.waitExact).toBe(false);
  });

  it('counts a start in the minute it happened', async () => {
    const { w3 } = await busyMinute();
    await t.store.history.sampleQueue(M, M + 61 * S);
    await t.report(M + 90 * S, { started: [{ taskId: w3, attempt: 1, at: M + 90 * S }] });
    await t.store.history.sampleQueue(M + MINUTE_MS, M + 2 * MINUTE_MS + S);
    const rows = (await t.store.history.queueSamples({ since: M, until: M + 2 * MINUTE_MS, teams: null }))
      .rows;
    expect(rows.map((r) => [r.minute, r.started, r.waitP50Ms])).toEqual([
      [M, 3, 40_000],
      [M + MINUTE_MS, 1, 120_000],
    ]);
  });

  it('samples an idle minute as zero: the all-teams row, no team row', async () => {
    expect(await t.store.history.sampleQueue(M, M + S)).toBe(true);
    const all = await t.store.history.queueSamples({ since: M, until: M + MINUTE_MS, teams: null });
    expect(
      all.rows.map((r) => [r.pending, r.running, r.retrying, r.started, r.waitP50Ms, r.oldestWaitMs]),
    ).toEqual([[[0, 0, 0, 0, 0], 0, 0, 0, null, null]]);
    const mine = await t.store.history.queueSamples({
      since: M,
      until: M + MINUTE_MS,
      teams: new Set(['default']),
    });
    expect(mine).toEqual({ minutes: [M], rows: [] });
  });

  it('prunes samples of minutes before the cut, and nothing else', async () => {
    for (const m of [M, M + MINUTE_MS, M + 2 * MINUTE_MS]) await t.store.history.sampleQueue(m, m + 61 * S);
    await add('web-1', 3, M + 3 * MINUTE_MS);
    await t.store.history.sampleQueue(M + 3 * MINUTE_MS, M + 4 * MINUTE_MS + S);
    expect(await t.store.history.pruneQueueSamples(M + 2 * MINUTE_MS)).toBe(2);
    const left = await t.store.history.queueSamples({ since: 0, until: M + 10 * MINUTE_MS, teams: null });
    expect(left.minutes).toEqual([M + 2 * MINUTE_MS, M + 3 * MINUTE_MS]);
    // The team row of the last minute stays with it.
    const mine = await t.store.history.queueSamples({
      since: 0,
      until: M + 10 * MINUTE_MS,
      teams: new Set(['default']),
    });
    expect(mine.rows.map((r) => r.minute)).toEqual([M + 3 * MINUTE_MS]);
  });
});

describe.each(STORES)('%s store: earlier runs of a command on a machine', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.machine('web-1', 20);
    await t.machine('web-2', 20);
  });
  afterEach(async () => {
    await t.close();
  });

  /** Runs a task from start to end: `ms` long, exit `code`. */
  async function run(machine: string, command: string, at: number, ms: number, code = 0, extra = {}) {
    const id = await t.add(machine, { command, ...extra }, at);
    await t.claim(at);
    await t.report(at, { started: [{ taskId: id, attempt: 1, at }] });
    if (ms >= 0) await t.report(at + ms, { results: [result(id, 1, at + ms, code)] });
    return id;
  }

  it('reads completed runs of the same command on the same machine, newest first', async () => {
    const cmd = 'pg_dump app > /backup/app.sql';
    await run('web-1', cmd, M, 10 * S);
    await run('web-1', cmd, M + MINUTE_MS, 20 * S);
    await run('web-1', cmd, M + 2 * MINUTE_MS, 30 * S);
    // Not counted: another command, another machine, a failed run, a command that only starts the same.
    await run('web-1', 'echo other', M + 3 * MINUTE_MS, 99 * S);
    await run('web-2', cmd, M + 3 * MINUTE_MS, 98 * S);
    await run('web-1', cmd, M + 3 * MINUTE_MS, 97 * S, 1);
    await run('web-1', `${cmd} # and more`, M + 3 * MINUTE_MS, 96 * S);
    const long = `${'x'.repeat(300)} a`;
    await run('web-1', `${'x'.repeat(300)} b`, M + 3 * MINUTE_MS, 95 * S);
    await run('web-1', long, M + 3 * MINUTE_MS, 7 * S);
    // A retried run: only its completing attempt counts (5 s), not the failed first one.
    const retried = await t.add(
      'web-1',
      { command: cmd, retryCount: 1, retryDelaySeconds: 0 },
      M + 4 * MINUTE_MS,
    );
    await t.claim(M + 4 * MINUTE_MS);
    await t.report(M + 4 * MINUTE_MS, { started: [{ taskId: retried, attempt: 1, at: M + 4 * MINUTE_MS }] });
    await t.report(M + 4 * MINUTE_MS + 50 * S, {
      results: [result(retried, 1, M + 4 * MINUTE_MS + 50 * S, 1)],
    });
    await t.store.promoteDueRetries(M + 5 * MINUTE_MS);
    await t.claim(M + 5 * MINUTE_MS);
    await t.report(M + 5 * MINUTE_MS, { started: [{ taskId: retried, attempt: 2, at: M + 5 * MINUTE_MS }] });
    await t.report(M + 5 * MINUTE_MS + 5 * S, {
      results: [result(retried, 2, M + 5 * MINUTE_MS + 5 * S, 0)],
    });

    const now = await run('web-1', cmd, M + 10 * MINUTE_MS, -1);
    const longNow = await run('web-1', long, M + 10 * MINUTE_MS, -1);
    const waiting = await t.add('web-2', { command: cmd }, M + 11 * MINUTE_MS);
    const [a, b, c, d] = await t.store.history.usualRuns(
      [now, longNow, waiting, '00000000-0000-0000-0000-000000000000', now],
      20,
    );
    expect(a).toEqual({
      taskId: now,
      team: 'default',
      status: 'running',
      machine: 'web-1',
      attemptStartedAt: M + 10 * MINUTE_MS,
      runsMs: [5 * S, 30 * S, 20 * S, 10 * S],
    });
    // Commands alike in their first 256 characters are told apart by the rest.
    expect(b?.runsMs).toEqual([7 * S]);
    // Not started: no attempt, but the machine's earlier runs are known (web-2's one).
    expect(c).toMatchObject({ taskId: waiting, status: 'pending', attemptStartedAt: null, runsMs: [98 * S] });
    // Unknown ids are left out; a repeated id is answered once.
    expect(d).toBeUndefined();
    // The limit takes the newest.
    expect((await t.store.history.usualRuns([now], 2))[0]?.runsMs).toEqual([5 * S, 30 * S]);
    // A completed task is compared with the others, not itself.
    const done = await run('web-1', cmd, M + 20 * MINUTE_MS, 40 * S);
    expect((await t.store.history.usualRuns([done], 20))[0]?.runsMs).toEqual([5 * S, 30 * S, 20 * S, 10 * S]);
  });
});

describe('postgres store: replicas sampling at once', () => {
  it('writes each minute once, whichever replica comes first', async () => {
    t = await openTestStore('postgres');
    await t.machine('web-1', 2);
    await t.add('web-1', { priority: 2 as Priority }, M);
    const url = await testDatabaseUrl();
    const replicas = [
      t.store,
      new PostgresStore(url, { poolSize: 2 }),
      new PostgresStore(url, { poolSize: 2 }),
    ];
    try {
      for (let i = 0; i < 10; i += 1) {
        const minute = M + i * MINUTE_MS;
        const wrote = await Promise.all(replicas.map((s) => s.history.sampleQueue(minute, minute + 61 * S)));
        expect(wrote.filter(Boolean)).toHaveLength(1);
      }
      const all = await t.store.history.queueSamples({ since: M, until: M + 10 * MINUTE_MS, teams: null });
      expect(all.minutes).toHaveLength(10);
      const mine = await t.store.history.queueSamples({
        since: M,
        until: M + 10 * MINUTE_MS,
        teams: new Set(['default']),
      });
      expect(mine.rows.map((r) => r.pending[1])).toEqual(Array(10).fill(1));
    } finally {
      for (const s of replicas.slice(1)) await s.close();
      await t.close();
    }
  });
});
