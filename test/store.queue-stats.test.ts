import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Priority, QueueStats } from '../src/core/types.js';
import { dropTestDatabase, openTestStore, result, STORES, T0, type TestStore } from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

describe.each(STORES)('%s store', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.machine('m1', 3);
    await t.machine('m2', 1);
  });
  afterEach(async () => {
    await t.close();
  });

  type Counts = Pick<QueueStats, 'pending' | 'retrying' | 'assigned' | 'running' | 'cancelling'>;

  async function counts(now = T0): Promise<Counts> {
    const s = await t.store.queueStats(now);
    return {
      pending: s.pending,
      retrying: s.retrying,
      assigned: s.assigned,
      running: s.running,
      cancelling: s.cancelling,
    };
  }

  /** The same numbers computed by scanning the task table, to check the maintained counters against. */
  async function scanned(): Promise<Counts> {
    const tasks = await t.store.listTasks({ limit: 1000 });
    const c: Counts = {
      pending: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 },
      retrying: 0,
      assigned: 0,
      running: 0,
      cancelling: 0,
    };
    for (const task of tasks) {
      if (task.status === 'pending') c.pending[task.priority as Priority] += 1;
      else if (
        task.status === 'retrying' ||
        task.status === 'assigned' ||
        task.status === 'running' ||
        task.status === 'cancelling'
      )
        c[task.status] += 1;
    }
    return c;
  }

  const zero = { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 };

  describe('queueStats', () => {
    it('is all zero on an empty queue', async () => {
      const s = await t.store.queueStats(T0);
      expect(s).toEqual({
        pending: zero,
        retrying: 0,
        assigned: 0,
        running: 0,
        cancelling: 0,
        oldestPendingAgeMs: null,
        busiestMachines: [],
        pendingTotal: 0,
        oldestPendingAgeMsByPriority: { 1: null, 2: null, 3: null, 4: null, 5: null },
        lanes: [],
      });
    });

    it('counts pending per priority after create', async () => {
      await t.add('m1', { priority: 1 });
      await t.add('m1', { priority: 3 });
      await t.add('m2', { priority: 3 });
      await t.add('m1', { priority: 5 });
      expect((await counts()).pending).toEqual({ 1: 1, 2: 0, 3: 2, 4: 0, 5: 1 });
      expect(await counts()).toEqual(await scanned());
    });

    it('follows every step of the life cycle and always matches the task table', async () => {
      const ok = await t.add('m1', { priority: 2 });
      const flaky = await t.add('m1', { priority: 3, retryCount: 1, retryDelaySeconds: 10 });
      const killed = await t.add('m1', { priority: 4 });
      const waiting = await t.add('m2', { priority: 5 });
      const waiting2 = await t.add('m2', { priority: 5 });
      const check = async (expected: Partial<Counts>) => {
        const c = await counts();
        expect(c).toMatchObject(expected);
        expect(c).toEqual(await scanned());
      };
      await check({ pending: { 1: 0, 2: 1, 3: 1, 4: 1, 5: 2 }, assigned: 0 });

      await t.claim(T0 + 1); // m1 takes 3, m2 takes 1
      await check({ pending: { ...zero, 5: 1 }, assigned: 4, running: 0 });

      await t.report(T0 + 2, {
        started: [ok, flaky, killed].map((taskId) => ({ taskId, attempt: 1, at: T0 + 2 })),
      });
      await check({ assigned: 1, running: 3 });

      await t.report(T0 + 3, { results: [result(ok, 1, T0 + 3, 0), result(flaky, 1, T0 + 3, 1)] });
      await check({ running: 1, retrying: 1, assigned: 1 });

      await t.store.cancelTask(killed, T0 + 4);
      await check({ running: 0, cancelling: 1 });
      await t.report(T0 + 5, { results: [result(killed, 1, T0 + 5, null, 'SIGTERM')] });
      await check({ cancelling: 0 });

      await t.store.promoteDueRetries(T0 + 3 + 10_000);
      await check({ retrying: 0, pending: { ...zero, 3: 1, 5: 1 } });

      await t.store.cancelTask(waiting2, T0 + 6);
      const assignedOnM2 = (await t.store.listTasks({ machine: 'm2', status: 'assigned', limit: 5 }))[0]
        ?.taskId;
      expect(assignedOnM2).toBe(waiting);
      await t.store.expireLeases(T0 + 1 + 30_000);
      await check({ pending: { ...zero, 3: 1 }, assigned: 0, running: 0, retrying: 0, cancelling: 0 });
    });

    it('reports the age of the oldest waiting task across priorities', async () => {
      await t.add('m1', { priority: 4 }, T0);
      await t.add('m1', { priority: 1 }, T0 + 500);
      expect((await t.store.queueStats(T0 + 2000)).oldestPendingAgeMs).toBe(2000);
      await t.claim(T0 + 2000, { max: 1 }); // takes the priority-1 task
      expect((await t.store.queueStats(T0 + 3000)).oldestPendingAgeMs).toBe(3000);
      await t.claim(T0 + 3000);
      expect((await t.store.queueStats(T0 + 3000)).oldestPendingAgeMs).toBeNull();
    });

    it('lists the busiest machines by running, then pending', async () => {
      for (let i = 0; i < 4; i += 1) await t.add('m1');
      await t.add('m2');
      await t.claim(T0);
      const s = await t.store.queueStats(T0);
      expect(s.busiestMachines).toEqual([
        { machine: 'm1', team: 'default', running: 3, pending: 1, concurrency: 3 },
        { machine: 'm2', team: 'default', running: 1, pending: 0, concurrency: 1 },
      ]);
    });
  });
});
