import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../src/core/errors.js';
import {
  AGING_MS,
  claimRequest,
  dropTestDatabase,
  newTask,
  openTestStore,
  STORES,
  T0,
  type TestStore,
} from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

describe.each(STORES)('%s store', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
  });
  afterEach(async () => {
    await t.close();
  });

  describe('insertTasks', () => {
    it('inserts nothing when a machine in the middle of the batch is unknown', async () => {
      await t.machine('m1', 4);
      const batch = [newTask('m1'), newTask('m1'), newTask('nope'), newTask('m1')];
      let caught: unknown;
      try {
        await t.store.insertTasks(batch, T0);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AppError);
      expect(caught).toMatchObject({ code: 'MACHINE_NOT_FOUND', statusCode: 404, field: 'tasks[2].machine' });
      expect(await t.store.listTasks({ limit: 100 })).toEqual([]);
      for (const task of batch) expect(await t.store.getTask(task.taskId)).toBeNull();
      const stats = await t.store.queueStats(T0);
      expect(stats.pending).toEqual({ 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 });
      expect((await t.store.getMachine('m1'))?.pending).toBe(0);
    });

    it('names the machine field without index for a single task', async () => {
      await expect(t.store.insertTasks([newTask('ghost')], T0)).rejects.toMatchObject({
        code: 'MACHINE_NOT_FOUND',
        field: 'machine',
      });
    });

    it('inserts the whole batch as pending with the machine team and counters', async () => {
      await t.machine('m1', 2);
      const batch = [newTask('m1', { priority: 2 }), newTask('m1', { priority: 5, retryCount: 3 })];
      await t.store.insertTasks(batch, T0);
      const [a, b] = await Promise.all(batch.map((x) => t.store.getTask(x.taskId)));
      expect(a).toMatchObject({
        status: 'pending',
        priority: 2,
        team: 'default',
        machine: 'm1',
        attempts: 0,
      });
      expect(b).toMatchObject({ status: 'pending', priority: 5, attemptLimit: 4, createdAt: T0 });
      expect((await t.store.getMachine('m1'))?.pending).toBe(2);
    });

    it('rejects a duplicate task id and keeps the rest of that batch out', async () => {
      await t.machine('m1');
      const first = newTask('m1');
      await t.store.insertTasks([first], T0);
      await expect(
        t.store.insertTasks([newTask('m1'), { ...newTask('m1'), taskId: first.taskId }], T0),
      ).rejects.toThrow();
      expect(await t.store.listTasks({ limit: 100 })).toHaveLength(1);
      expect((await t.store.getMachine('m1'))?.pending).toBe(1);
    });
  });

  describe('claim', () => {
    it('answers a repeated claim id with the unstarted tasks of the lost answer, and nothing new twice', async () => {
      await t.machine('m1', 3);
      const ids = [await t.add('m1'), await t.add('m1'), await t.add('m1'), await t.add('m1')];
      const first = await t.store.claim(claimRequest(T0 + 1, { max: 2, claimId: 'c-1' }));
      expect(first.map((a) => [a.taskId, a.attempt])).toEqual([
        [ids[0], 1],
        [ids[1], 1],
      ]);
      // The answer was lost; the bridge asks again with the same id and one more free slot.
      const again = await t.store.claim(claimRequest(T0 + 2, { max: 3, claimId: 'c-1' }));
      expect(again.map((a) => [a.taskId, a.attempt])).toEqual([
        [ids[0], 1],
        [ids[1], 1],
        [ids[2], 1],
      ]);
      expect(again[0]).toEqual(first[0]);
      expect((await t.store.getMachine('m1'))?.running).toBe(3);
      expect((await t.store.getTask(ids[0] as string))?.attempts).toBe(1);
      // A new id never hands out the same tasks again, and the machine is full.
      expect(await t.claim(T0 + 3, { claimId: 'c-2' })).toEqual([]);
      // Started tasks are no longer replayed.
      await t.report(T0 + 4, { started: [{ taskId: ids[0] as string, attempt: 1, at: T0 + 4 }] });
      expect(await t.claim(T0 + 5, { max: 3, claimId: 'c-1' })).toEqual([ids[1], ids[2]]);
      const stats = await t.store.queueStats(T0 + 5);
      expect(stats.pending[3]).toBe(1);
    });

    it('claims by priority, then first in first out', async () => {
      await t.machine('m1', 10);
      const p5 = await t.add('m1', { priority: 5 });
      const p3a = await t.add('m1', { priority: 3 });
      const p2 = await t.add('m1', { priority: 2 });
      const p3b = await t.add('m1', { priority: 3 });
      const p4 = await t.add('m1', { priority: 4 });
      const p3c = await t.add('m1', { priority: 3 });
      expect(await t.claim(T0 + 1)).toEqual([p2, p3a, p3b, p3c, p4, p5]);
    });

    it('claims one at a time in the same order as its machine frees slots', async () => {
      await t.machine('m1', 1);
      const ids = [
        await t.add('m1', { priority: 4 }),
        await t.add('m1', { priority: 2 }),
        await t.add('m1', { priority: 4 }),
        await t.add('m1', { priority: 2 }),
      ];
      const order: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        const claimed = await t.claim(T0 + i);
        expect(claimed).toHaveLength(1);
        order.push(claimed[0] as string);
        // Nothing more while the slot is taken.
        expect(await t.claim(T0 + i)).toEqual([]);
        await t.report(T0 + i, {
          results: [
            { taskId: claimed[0] as string, attempt: 1, at: T0 + i, exitCode: 0, signal: null, reason: null },
          ],
        });
      }
      expect(order).toEqual([ids[1], ids[3], ids[0], ids[2]]);
    });

    it('respects per-machine concurrency, also across claim calls and machines', async () => {
      await t.machine('m1', 2);
      await t.machine('m2', 3);
      for (let i = 0; i < 5; i += 1) {
        await t.add('m1');
        await t.add('m2');
      }
      const first = await t.claim(T0 + 1);
      expect(first).toHaveLength(5);
      expect(await t.claim(T0 + 2)).toEqual([]);
      expect((await t.store.getMachine('m1'))?.running).toBe(2);
      expect((await t.store.getMachine('m2'))?.running).toBe(3);
      const m1Running = await t.store.listTasks({ machine: 'm1', status: 'assigned', limit: 10 });
      expect(m1Running).toHaveLength(2);
    });

    it('claims at most max tasks', async () => {
      await t.machine('m1', 10);
      for (let i = 0; i < 6; i += 1) await t.add('m1');
      expect(await t.claim(T0, { max: 4 })).toHaveLength(4);
      expect(await t.claim(T0, { max: 0 })).toEqual([]);
      expect(await t.claim(T0, { max: 4 })).toHaveLength(2);
    });

    it('claims only for machines of the bridge region', async () => {
      await t.store.ensureRegion('elsewhere', T0);
      await t.machine('far', 4, { region: 'elsewhere' });
      await t.add('far');
      expect(await t.claim(T0)).toEqual([]);
      expect(await t.claim(T0, { region: 'elsewhere' })).toHaveLength(1);
    });

    it('gives priority 1 exactly the critical reserve beyond concurrency', async () => {
      await t.machine('m1', 1);
      const normal = await t.add('m1', { priority: 3 });
      expect(await t.claim(T0)).toEqual([normal]);
      const waitingHigh = await t.add('m1', { priority: 2 });
      const c1 = await t.add('m1', { priority: 1 });
      const c2 = await t.add('m1', { priority: 1 });
      expect(await t.claim(T0 + 1, { criticalReserve: 1 })).toEqual([c1]);
      expect(await t.claim(T0 + 2, { criticalReserve: 1 })).toEqual([]);
      expect((await t.store.getMachine('m1'))?.running).toBe(2);
      expect((await t.store.getTask(waitingHigh))?.status).toBe('pending');
      expect((await t.store.getTask(c2))?.status).toBe('pending');
      // A larger reserve lets the second critical task in too, but still not the priority-2 one.
      expect(await t.claim(T0 + 3, { criticalReserve: 2 })).toEqual([c2]);
      expect(await t.claim(T0 + 4, { criticalReserve: 5 })).toEqual([]);
    });

    it('with no reserve priority 1 waits for a free slot like everyone else', async () => {
      await t.machine('m1', 1);
      await t.add('m1');
      await t.claim(T0);
      await t.add('m1', { priority: 1 });
      expect(await t.claim(T0 + 1, { criticalReserve: 0 })).toEqual([]);
    });

    it('an old priority-5 task is claimed before a fresh priority-3 one', async () => {
      await t.machine('m1', 1);
      const old = await t.add('m1', { priority: 5 }, T0);
      const now = T0 + 3 * AGING_MS; // aged to 2
      const fresh = await t.add('m1', { priority: 3 }, now);
      expect(await t.claim(now, { max: 1 })).toEqual([old]);
      expect((await t.store.getTask(fresh))?.status).toBe('pending');
    });

    it('a priority-5 task not yet old enough waits behind a fresh priority-3 one', async () => {
      await t.machine('m1', 1);
      await t.add('m1', { priority: 5 }, T0);
      const now = T0 + 2 * AGING_MS - 1; // aged to 4 only
      const fresh = await t.add('m1', { priority: 3 }, now);
      expect(await t.claim(now, { max: 1 })).toEqual([fresh]);
    });

    it('without aging the priority-5 task stays behind', async () => {
      await t.machine('m1', 1);
      await t.add('m1', { priority: 5 }, T0);
      const now = T0 + 100 * AGING_MS;
      const fresh = await t.add('m1', { priority: 3 }, now);
      expect(await t.claim(now, { max: 1, agingIntervalMs: 0 })).toEqual([fresh]);
    });

    it('an aged task is never claimed before a priority-1 task', async () => {
      await t.machine('m1', 1);
      const ancient = await t.add('m1', { priority: 5 }, T0);
      const now = T0 + 1000 * AGING_MS;
      const critical = await t.add('m1', { priority: 1 }, now);
      expect(await t.claim(now, { max: 1, criticalReserve: 0 })).toEqual([critical]);
      expect((await t.store.getTask(ancient))?.status).toBe('pending');
    });

    it('creates an attempt with the lease and counts the task running on its bridge', async () => {
      await t.machine('m1', 1);
      const id = await t.add('m1', { command: 'echo hi', env: { A: '1' }, timeoutSeconds: 9 });
      const [a] = await t.store.claim(claimRequest(T0 + 5));
      expect(a).toMatchObject({
        taskId: id,
        attempt: 1,
        command: 'echo hi',
        timeoutSeconds: 9,
        team: 'default',
        priority: 3,
        env: { A: '1' },
        machine: { name: 'm1', transport: 'local' },
      });
      expect(await t.store.getAttempts(id)).toMatchObject([
        { attempt: 1, status: 'running', bridge: 'b1', assignedAt: T0 + 5 },
      ]);
      expect((await t.store.getBridge('b1'))?.running).toBe(1);
      expect((await t.store.getBridge('b1'))?.lastSeenAt).toBe(T0 + 5);
    });

    it('refuses an unregistered bridge', async () => {
      await expect(t.store.claim(claimRequest(T0, { bridge: 'ghost' }))).rejects.toMatchObject({
        code: 'BRIDGE_NOT_FOUND',
      });
    });
  });
});
