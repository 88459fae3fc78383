import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AGING_MS,
  claimRequest,
  dropTestDatabase,
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

  async function start(now: number, taskId: string): Promise<void> {
    const claimed = await t.claim(now);
    expect(claimed).toContain(taskId);
    await t.report(now, {
      started: [{ taskId, attempt: (await t.store.getTask(taskId))?.attempts ?? 0, at: now }],
    });
  }

  describe('cancelTask', () => {
    it('cancels a pending task at once, without a bridge', async () => {
      const id = await t.add('m1');
      const r = await t.store.cancelTask(id, T0 + 5);
      expect(r.bridge).toBeNull();
      expect(r.region).toBe('default');
      expect(r.task).toMatchObject({ status: 'cancelled', reason: 'CANCELLED', finishedAt: T0 + 5 });
      expect((await t.store.getMachine('m1'))?.pending).toBe(0);
      expect(await t.claim(T0 + 6)).toEqual([]);
      expect(await t.store.cancelsFor('b1')).toEqual([]);
    });

    it('cancels a running task through its bridge, then a result ends it cancelled', async () => {
      const id = await t.add('m1', { retryCount: 5, failureAction: 'alert' });
      await start(T0, id);
      const r = await t.store.cancelTask(id, T0 + 10);
      expect(r.bridge).toBe('b1');
      expect(r.task.status).toBe('cancelling');
      expect(r.task.finishedAt).toBeNull();
      expect(await t.store.cancelsFor('b1')).toEqual([{ taskId: id, attempt: 1 }]);
      expect(await t.store.cancelsFor('other-bridge')).toEqual([]);
      // Still holds its slot until the bridge reports the end.
      expect((await t.store.getMachine('m1'))?.running).toBe(1);
      // Every report of the bridge repeats the cancel until it is done.
      const beat = await t.report(T0 + 11, { running: [{ taskId: id, attempt: 1 }] });
      expect(beat.cancel).toEqual([{ taskId: id, attempt: 1 }]);

      // Killed by the bridge: would be retryable, but a cancelled task never retries or alerts.
      const end = await t.report(T0 + 12, { results: [result(id, 1, T0 + 12, null, 'SIGTERM')] });
      expect(end.changes).toEqual({
        tasks: [{ taskId: id, status: 'cancelled', region: 'default' }],
        alerts: 0,
        attempts: [
          {
            teamId: expect.any(Number),
            priority: 3,
            ended: { status: 'cancelled', reason: 'CANCELLED', runMs: expect.any(Number) },
          },
        ],
      });
      expect(await t.store.getTask(id)).toMatchObject({
        status: 'cancelled',
        reason: 'CANCELLED',
        finishedAt: T0 + 12,
      });
      expect((await t.store.getAttempts(id))[0]).toMatchObject({ status: 'cancelled', signal: 'SIGTERM' });
      expect(await t.store.cancelsFor('b1')).toEqual([]);
      expect((await t.store.getMachine('m1'))?.running).toBe(0);
      expect(await t.store.listAlerts({ limit: 5 })).toEqual([]);
    });

    it('a cancelled task ends cancelled even if its command then exits 0', async () => {
      const id = await t.add('m1');
      await start(T0, id);
      await t.store.cancelTask(id, T0 + 1);
      await t.report(T0 + 2, { results: [result(id, 1, T0 + 2, 0)] });
      expect((await t.store.getTask(id))?.status).toBe('cancelled');
    });

    it('a second cancel of a cancelling task is harmless', async () => {
      const id = await t.add('m1');
      await start(T0, id);
      await t.store.cancelTask(id, T0 + 1);
      const again = await t.store.cancelTask(id, T0 + 2);
      expect(again.task.status).toBe('cancelling');
      expect((await t.store.queueStats(T0 + 2)).cancelling).toBe(1);
    });

    it('cancels a retrying task at once', async () => {
      const id = await t.add('m1', { retryCount: 3, retryDelaySeconds: 60 });
      await start(T0, id);
      await t.report(T0 + 1, { results: [result(id, 1, T0 + 1, 1)] });
      const r = await t.store.cancelTask(id, T0 + 2);
      expect(r.bridge).toBeNull();
      expect(r.task).toMatchObject({ status: 'cancelled', retryAt: null });
      expect((await t.store.promoteDueRetries(T0 + 120_000)).tasks).toEqual([]);
    });

    it('refuses unknown and ended tasks', async () => {
      await expect(t.store.cancelTask('00000000-0000-0000-0000-000000000000', T0)).rejects.toMatchObject({
        code: 'TASK_NOT_FOUND',
        statusCode: 404,
      });
      const id = await t.add('m1');
      await t.store.cancelTask(id, T0);
      await expect(t.store.cancelTask(id, T0 + 1)).rejects.toMatchObject({
        code: 'TASK_FINISHED',
        statusCode: 409,
      });
    });
  });

  describe('requeueTask', () => {
    it('puts a failed task back as pending with a new round of attempts', async () => {
      const id = await t.add('m1', { retryCount: 1 });
      await start(T0, id);
      await t.report(T0 + 1, { results: [result(id, 1, T0 + 1, 2)] });
      await t.store.promoteDueRetries(T0 + 1);
      await start(T0 + 2, id);
      await t.report(T0 + 3, { results: [result(id, 2, T0 + 3, 2)] });
      expect((await t.store.getTask(id))?.status).toBe('failed');

      const task = await t.store.requeueTask(id, T0 + 4);
      expect(task).toMatchObject({
        status: 'pending',
        attempts: 2,
        attemptLimit: 4,
        exitCode: null,
        reason: null,
        finishedAt: null,
      });
      expect((await t.store.getMachine('m1'))?.pending).toBe(1);
      const [a] = await t.store.claim(claimRequest(T0 + 5));
      expect(a).toMatchObject({ taskId: id, attempt: 3 });
    });

    it('requeues completed and cancelled tasks too', async () => {
      const done = await t.add('m1');
      await start(T0, done);
      await t.report(T0, { results: [result(done, 1, T0, 0)] });
      const cancelled = await t.add('m1');
      await t.store.cancelTask(cancelled, T0);
      expect((await t.store.requeueTask(done, T0 + 1)).status).toBe('pending');
      expect((await t.store.requeueTask(cancelled, T0 + 1)).status).toBe('pending');
      expect((await t.store.queueStats(T0 + 1)).pending[3]).toBe(2);
    });

    it('refuses tasks that have not ended, and unknown ones', async () => {
      const id = await t.add('m1');
      await expect(t.store.requeueTask(id, T0)).rejects.toMatchObject({
        code: 'TASK_NOT_FINISHED',
        statusCode: 409,
      });
      await start(T0, id);
      await expect(t.store.requeueTask(id, T0)).rejects.toMatchObject({ code: 'TASK_NOT_FINISHED' });
      await expect(t.store.requeueTask('00000000-0000-0000-0000-000000000000', T0)).rejects.toMatchObject({
        code: 'TASK_NOT_FOUND',
      });
    });

    it('refuses a task whose machine was deleted', async () => {
      await t.machine('gone', 1);
      const id = await t.add('gone');
      await t.store.cancelTask(id, T0);
      await t.store.deleteMachine('gone');
      await expect(t.store.requeueTask(id, T0 + 1)).rejects.toMatchObject({
        code: 'MACHINE_GONE',
        statusCode: 409,
      });
    });

    it('refuses a task whose machine was deleted even after a new machine was created', async () => {
      // The new machine may get the deleted machine's row id; the old task must not land on it.
      await t.machine('gone', 1);
      const id = await t.add('gone');
      await t.store.cancelTask(id, T0);
      await t.store.deleteMachine('gone');
      await t.machine('newcomer', 1);
      await expect(t.store.requeueTask(id, T0 + 1)).rejects.toMatchObject({ code: 'MACHINE_GONE' });
      expect((await t.store.getMachine('newcomer'))?.pending).toBe(0);
      expect(await t.claim(T0 + 2)).toEqual([]);
    });

    it('a requeued task does not inherit the waiting time of its first round', async () => {
      // Aging counts time waited in the queue; a task that ended long ago has not been waiting.
      const old = await t.add('m1', { priority: 5 }, T0);
      await t.store.cancelTask(old, T0 + 1);
      const now = T0 + 100 * AGING_MS;
      await t.store.requeueTask(old, now);
      const fresh = await t.add('m1', { priority: 3 }, now);
      expect(await t.claim(now, { max: 1 })).toEqual([fresh]);
    });
  });

  describe('deleteMachine', () => {
    it('is refused with MACHINE_BUSY while a task is pending, running or retrying', async () => {
      const id = await t.add('m1', { retryCount: 1, retryDelaySeconds: 60 });
      await expect(t.store.deleteMachine('m1')).rejects.toMatchObject({
        code: 'MACHINE_BUSY',
        statusCode: 409,
      });
      await start(T0, id);
      await expect(t.store.deleteMachine('m1')).rejects.toMatchObject({ code: 'MACHINE_BUSY' });
      await t.report(T0 + 1, { results: [result(id, 1, T0 + 1, 1)] });
      expect((await t.store.getTask(id))?.status).toBe('retrying');
      await expect(t.store.deleteMachine('m1')).rejects.toMatchObject({ code: 'MACHINE_BUSY' });
      expect(await t.store.getMachine('m1')).not.toBeNull();

      await t.store.cancelTask(id, T0 + 2);
      await t.store.deleteMachine('m1');
      expect(await t.store.getMachine('m1')).toBeNull();
      // The history stays.
      expect(await t.store.getTask(id)).toMatchObject({ status: 'cancelled', machine: 'm1' });
    });

    it('refuses an unknown machine', async () => {
      await expect(t.store.deleteMachine('nope')).rejects.toMatchObject({
        code: 'MACHINE_NOT_FOUND',
        statusCode: 404,
      });
    });
  });
});
