import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  claimRequest,
  dropTestDatabase,
  LEASE_MS,
  openTestStore,
  result,
  STORES,
  T0,
  type TestStore,
} from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

describe.each(STORES)('%s store', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.machine('m1', 2);
  });
  afterEach(async () => {
    await t.close();
  });

  /** Claims the one waiting task at `now` and reports it started. */
  async function claimAndStart(now: number): Promise<{ taskId: string; attempt: number }> {
    const [a] = await t.store.claim(claimRequest(now, { max: 1 }));
    if (a === undefined) throw new Error('nothing claimed');
    await t.report(now, { started: [{ taskId: a.taskId, attempt: a.attempt, at: now }] });
    return { taskId: a.taskId, attempt: a.attempt };
  }

  describe('report: starts and results', () => {
    it('a start moves the task to running; exit 0 completes it and frees the slot', async () => {
      const id = await t.add('m1');
      await claimAndStart(T0 + 10);
      expect(await t.store.getTask(id)).toMatchObject({ status: 'running', startedAt: T0 + 10 });
      expect((await t.store.getMachine('m1'))?.running).toBe(1);

      const out = await t.report(T0 + 20, { results: [result(id, 1, T0 + 19, 0)] });
      expect(out.changes.tasks).toEqual([{ taskId: id, status: 'completed', region: 'default' }]);
      expect(await t.store.getTask(id)).toMatchObject({
        status: 'completed',
        exitCode: 0,
        reason: null,
        finishedAt: T0 + 19,
        retryAt: null,
      });
      expect(await t.store.getAttempts(id)).toMatchObject([
        { attempt: 1, status: 'completed', startedAt: T0 + 10, finishedAt: T0 + 19, exitCode: 0 },
      ]);
      expect((await t.store.getMachine('m1'))?.running).toBe(0);
      expect((await t.store.getBridge('b1'))?.running).toBe(0);
    });

    it('a failure with retries left goes to retrying with retryAt = end + delay', async () => {
      const id = await t.add('m1', { retryCount: 2, retryDelaySeconds: 5 });
      await claimAndStart(T0);
      await t.report(T0 + 100, { results: [result(id, 1, T0 + 100, 3)] });
      expect(await t.store.getTask(id)).toMatchObject({
        status: 'retrying',
        exitCode: 3,
        reason: 'EXIT_NONZERO',
        retryAt: T0 + 100 + 5000,
        finishedAt: null,
        attempts: 1,
      });
      expect((await t.store.getAttempts(id))[0]).toMatchObject({ status: 'failed', reason: 'EXIT_NONZERO' });
      expect((await t.store.getMachine('m1'))?.running).toBe(0);
    });

    it('fails after attemptLimit attempts with exactly one alert when failureAction is alert', async () => {
      const id = await t.add('m1', { retryCount: 2, retryDelaySeconds: 1, failureAction: 'alert' });
      let now = T0;
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        const claimed = await claimAndStart(now);
        expect(claimed).toEqual({ taskId: id, attempt });
        now += 50;
        const out = await t.report(now, { results: [result(id, attempt, now, 3)] });
        expect(out.changes.alerts).toBe(attempt === 3 ? 1 : 0);
        if (attempt < 3) {
          expect((await t.store.getTask(id))?.status).toBe('retrying');
          expect(await t.store.listAlerts({ limit: 10 })).toEqual([]);
          now += 1000;
          await t.store.promoteDueRetries(now);
        }
      }
      expect(await t.store.getTask(id)).toMatchObject({
        status: 'failed',
        attempts: 3,
        attemptLimit: 3,
        exitCode: 3,
        reason: 'EXIT_NONZERO',
        finishedAt: now,
      });
      const alerts = await t.store.listAlerts({ limit: 10 });
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ kind: 'task_failed', taskId: id, machine: 'm1', team: 'default' });
      expect(alerts[0]?.message).toContain('exit code 3');
      expect((await t.store.getAttempts(id)).map((a) => a.status)).toEqual(['failed', 'failed', 'failed']);
    });

    it('fails without an alert when failureAction is none', async () => {
      const id = await t.add('m1', { failureAction: 'none' });
      await claimAndStart(T0);
      const out = await t.report(T0 + 1, { results: [result(id, 1, T0 + 1, 1)] });
      expect(out.changes.alerts).toBe(0);
      expect((await t.store.getTask(id))?.status).toBe('failed');
      expect(await t.store.listAlerts({ limit: 10 })).toEqual([]);
    });

    it('ends many attempts in one report: each by its own policy, a repeated result once', async () => {
      await t.machine('big', 100);
      const ok = await Promise.all(Array.from({ length: 30 }, () => t.add('big')));
      const retry = await Promise.all(
        Array.from({ length: 10 }, () => t.add('big', { retryCount: 1, retryDelaySeconds: 5 })),
      );
      const alert = await t.add('big', { failureAction: 'alert' });
      const claimed = await t.store.claim(claimRequest(T0, { max: 100 }));
      expect(claimed).toHaveLength(41);
      await t.report(T0 + 1, { started: claimed.map((a) => ({ taskId: a.taskId, attempt: 1, at: T0 + 1 })) });
      const out = await t.report(T0 + 5, {
        results: [
          ...ok.map((id) => result(id, 1, T0 + 5, 0)),
          ...retry.map((id) => result(id, 1, T0 + 5, 2)),
          result(alert, 1, T0 + 5, 7),
          // The same result again in the same report: counted once.
          result(ok[0] as string, 1, T0 + 6, 1),
        ],
      });
      expect(out.changes.alerts).toBe(1);
      expect(out.changes.tasks).toHaveLength(41);
      expect(await t.store.getTask(ok[0] as string)).toMatchObject({
        status: 'completed',
        exitCode: 0,
        finishedAt: T0 + 5,
      });
      expect(await t.store.getTask(retry[3] as string)).toMatchObject({
        status: 'retrying',
        exitCode: 2,
        retryAt: T0 + 5 + 5_000,
        finishedAt: null,
      });
      expect(await t.store.getTask(alert)).toMatchObject({
        status: 'failed',
        exitCode: 7,
        reason: 'EXIT_NONZERO',
      });
      expect((await t.store.getAttempts(retry[0] as string))[0]).toMatchObject({
        status: 'failed',
        exitCode: 2,
      });
      const stats = await t.store.queueStats(T0 + 5);
      expect({ running: stats.running, retrying: stats.retrying }).toEqual({ running: 0, retrying: 10 });
      expect(await t.store.getMachine('big')).toMatchObject({ running: 0, pending: 0 });
      const runs = (out.changes as { attempts?: { ended?: { runMs: number | null } }[] }).attempts ?? [];
      expect(runs.filter((a) => a.ended?.runMs === 4)).toHaveLength(41);
    });

    it('a repeated result for an ended attempt changes nothing', async () => {
      const id = await t.add('m1', { failureAction: 'alert' });
      await claimAndStart(T0);
      await t.report(T0 + 1, { results: [result(id, 1, T0 + 1, 1)] });
      const again = await t.report(T0 + 2, { results: [result(id, 1, T0 + 2, 0)] });
      expect(again.changes).toEqual({ tasks: [], alerts: 0 });
      expect(await t.store.getTask(id)).toMatchObject({ status: 'failed', exitCode: 1, finishedAt: T0 + 1 });
      expect(await t.store.listAlerts({ limit: 10 })).toHaveLength(1);
    });
  });

  describe('expireLeases', () => {
    it('leaves attempts alone until the lease runs out', async () => {
      const id = await t.add('m1', { retryCount: 1 });
      await claimAndStart(T0);
      expect((await t.store.expireLeases(T0 + LEASE_MS - 1)).tasks).toEqual([]);
      expect((await t.store.getTask(id))?.status).toBe('running');
    });

    it('a heartbeat (running list) extends the lease', async () => {
      const id = await t.add('m1');
      await claimAndStart(T0);
      const beat = await t.report(T0 + 20_000, { running: [{ taskId: id, attempt: 1 }] });
      expect(beat.cancel).toEqual([]);
      expect((await t.store.expireLeases(T0 + LEASE_MS + 1)).tasks).toEqual([]);
      expect((await t.store.expireLeases(T0 + 20_000 + LEASE_MS)).tasks).toHaveLength(1);
    });

    it('ends the attempt lost and retries per policy', async () => {
      const id = await t.add('m1', { retryCount: 1, retryDelaySeconds: 2 });
      await claimAndStart(T0);
      const now = T0 + LEASE_MS;
      const changes = await t.store.expireLeases(now, () => 0);
      expect(changes.tasks).toEqual([{ taskId: id, status: 'retrying', region: 'default' }]);
      expect(await t.store.getTask(id)).toMatchObject({
        status: 'retrying',
        reason: 'LOST',
        retryAt: now + 2000,
      });
      expect(await t.store.getAttempts(id)).toMatchObject([
        { attempt: 1, status: 'lost', reason: 'LOST', finishedAt: now },
      ]);
      expect((await t.store.getMachine('m1'))?.running).toBe(0);
      expect((await t.store.getBridge('b1'))?.running).toBe(0);

      // The second attempt is lost too: no retries left, the task fails.
      await t.store.promoteDueRetries(now + 2000);
      await claimAndStart(now + 2000);
      const later = now + 2000 + LEASE_MS;
      await t.store.expireLeases(later);
      expect(await t.store.getTask(id)).toMatchObject({
        status: 'failed',
        reason: 'LOST',
        attempts: 2,
        finishedAt: later,
      });
    });

    it('expires an assigned attempt that never started', async () => {
      const id = await t.add('m1');
      await t.claim(T0);
      await t.store.expireLeases(T0 + LEASE_MS);
      expect(await t.store.getTask(id)).toMatchObject({ status: 'failed', reason: 'LOST' });
    });

    it('a late result of a lost attempt is ignored, and the bridge is told to stop it', async () => {
      const id = await t.add('m1', { retryCount: 1 });
      await claimAndStart(T0);
      await t.store.expireLeases(T0 + LEASE_MS);
      const late = await t.report(T0 + LEASE_MS + 5, {
        results: [result(id, 1, T0 + LEASE_MS + 5, 0)],
        running: [],
      });
      expect(late.changes.tasks).toEqual([]);
      expect((await t.store.getTask(id))?.status).toBe('retrying');
      const beat = await t.report(T0 + LEASE_MS + 6, { running: [{ taskId: id, attempt: 1 }] });
      expect(beat.cancel).toEqual([{ taskId: id, attempt: 1 }]);
    });
  });

  describe('promoteDueRetries', () => {
    it('moves a retrying task back to pending only once retryAt has come', async () => {
      const id = await t.add('m1', { retryCount: 1, retryDelaySeconds: 10 });
      await claimAndStart(T0);
      await t.report(T0 + 1, { results: [result(id, 1, T0 + 1, 1)] });
      const retryAt = T0 + 1 + 10_000;

      const early = await t.store.promoteDueRetries(retryAt - 1);
      expect(early.tasks).toEqual([]);
      expect(early.nextDueAt).toBe(retryAt);
      expect((await t.store.getTask(id))?.status).toBe('retrying');
      expect(await t.claim(retryAt - 1)).toEqual([]);

      const due = await t.store.promoteDueRetries(retryAt);
      expect(due.tasks).toEqual([{ taskId: id, status: 'pending', region: 'default' }]);
      expect(due.nextDueAt).toBeNull();
      expect(await t.store.getTask(id)).toMatchObject({ status: 'pending', retryAt: null });
      expect((await t.store.getMachine('m1'))?.pending).toBe(1);

      const [again] = await t.store.claim(claimRequest(retryAt));
      expect(again).toMatchObject({ taskId: id, attempt: 2 });
    });

    it('reports the earliest retry still waiting', async () => {
      const a = await t.add('m1', { retryCount: 1, retryDelaySeconds: 30 });
      const b = await t.add('m1', { retryCount: 1, retryDelaySeconds: 5 });
      await t.claim(T0);
      await t.report(T0, { results: [result(a, 1, T0, 1), result(b, 1, T0, 1)] });
      expect((await t.store.promoteDueRetries(T0)).nextDueAt).toBe(T0 + 5000);
      expect((await t.store.promoteDueRetries(T0 + 5000)).nextDueAt).toBe(T0 + 30_000);
    });
  });
});
