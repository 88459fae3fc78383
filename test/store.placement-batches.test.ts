import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewTask } from '../src/store/store.js';
import {
  dropTestDatabase,
  newTask,
  openTestStore,
  result,
  STORES,
  T0,
  type TestStore,
} from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

function selected(labels: Record<string, string>, opts: Partial<NewTask> = {}): NewTask {
  return { ...newTask('', opts), selector: { team: 'default', region: 'default', labels } };
}

describe.each(STORES)('%s store', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
  });
  afterEach(async () => {
    await t.close();
  });

  describe('label selectors', () => {
    it('places waiting tasks on the least loaded matching machine when claimed', async () => {
      await t.machine('gpu-a', 2, { labels: { gpu: 'yes' } });
      await t.machine('gpu-b', 2, { labels: { gpu: 'yes' } });
      await t.machine('cpu', 4, { labels: { gpu: 'no' } });
      await t.add('gpu-a');
      const tasks = [selected({ gpu: 'yes' }), selected({ gpu: 'yes' }), selected({ gpu: 'yes' })];
      await t.store.insertTasks(tasks, T0);
      expect(await t.store.getTask(tasks[0]?.taskId as string)).toMatchObject({
        machine: null,
        status: 'pending',
      });
      const out = await t.store.claim({
        bridge: 'b1',
        region: 'default',
        max: 10,
        now: T0 + 1,
        leaseMs: 30_000,
        agingIntervalMs: 600_000,
        criticalReserve: 0,
      });
      // Placement comes first: ties go by name, and the machine's own waiting task finds no slot left.
      const where = out.map((a) => [a.taskId, a.machine.name]);
      expect(where).toEqual([
        [tasks[0]?.taskId, 'gpu-a'],
        [tasks[1]?.taskId, 'gpu-b'],
        [tasks[2]?.taskId, 'gpu-a'],
      ]);
      expect((await t.store.getTask(tasks[1]?.taskId as string))?.machine).toBe('gpu-b');
      expect(await t.store.getMachine('gpu-a')).toMatchObject({ running: 2, pending: 1 });
      expect(await t.store.getMachine('gpu-b')).toMatchObject({ running: 1, pending: 0 });
      expect((await t.store.queueStats(T0 + 1)).pending[3]).toBe(1);
    });

    it('leaves a task waiting while no matching machine has a free slot', async () => {
      await t.machine('cpu', 4, { labels: { gpu: 'no' } });
      const task = selected({ gpu: 'yes' });
      await t.store.insertTasks([task], T0);
      expect(await t.claim(T0 + 1)).toEqual([]);
      expect((await t.store.getTask(task.taskId))?.status).toBe('pending');
      await expect(
        t.store.insertTasks(
          [{ ...selected({}), selector: { team: 'ghost', region: 'default', labels: {} } }],
          T0,
        ),
      ).rejects.toMatchObject({ code: 'TEAM_NOT_FOUND', statusCode: 404 });
    });
  });

  describe('rolling batches', () => {
    it('runs at most maxRunning of a batch at once', async () => {
      await t.machine('m1', 10);
      const batchId = randomUUID();
      const tasks = Array.from({ length: 5 }, () => newTask('m1', { batchId }));
      await t.store.insertTasks(tasks, T0, { batchId, maxRunning: 2, maxFailures: null });
      const first = await t.claim(T0 + 1);
      expect(first).toEqual([tasks[0]?.taskId, tasks[1]?.taskId]);
      expect(await t.claim(T0 + 2)).toEqual([]);
      await t.report(T0 + 3, { results: [result(first[0] as string, 1, T0 + 3, 0)] });
      expect(await t.claim(T0 + 4)).toEqual([tasks[2]?.taskId]);
      expect(await t.store.batchCounts(batchId, null)).toEqual({ completed: 1, assigned: 2, pending: 2 });
      expect(await t.store.batchCounts(batchId, new Set(['other']))).toEqual({});
    });

    it('holds selector tasks of a batch to its running limit too', async () => {
      await t.machine('web-1', 5, { labels: { role: 'web' } });
      await t.machine('web-2', 5, { labels: { role: 'web' } });
      const batchId = randomUUID();
      const tasks = Array.from({ length: 4 }, () => selected({ role: 'web' }, { batchId }));
      await t.store.insertTasks(tasks, T0, { batchId, maxRunning: 1, maxFailures: null });
      const first = await t.claim(T0 + 1);
      expect(first).toEqual([tasks[0]?.taskId]);
      expect(await t.claim(T0 + 2)).toEqual([]);
      // The waiting ones are not placed on a machine while they cannot start.
      expect((await t.store.getTask(tasks[1]?.taskId as string))?.machine).toBeNull();
      await t.report(T0 + 3, { results: [result(first[0] as string, 1, T0 + 3, 0)] });
      expect(await t.claim(T0 + 4)).toEqual([tasks[1]?.taskId]);
      expect(await t.store.batchCounts(batchId, null)).toEqual({ completed: 1, assigned: 1, pending: 2 });
    });

    it('does not retry an attempt that fails after its rollout halted', async () => {
      await t.machine('m1', 10);
      const batchId = randomUUID();
      const tasks = Array.from({ length: 4 }, () =>
        newTask('m1', { batchId, retryCount: 1, retryDelaySeconds: 60 }),
      );
      await t.store.insertTasks(tasks, T0, { batchId, maxRunning: 3, maxFailures: 0 });
      const [a, b, c] = await t.claim(T0 + 1);
      await t.report(T0 + 2, {
        results: [
          {
            taskId: a as string,
            attempt: 1,
            at: T0 + 2,
            exitCode: null,
            signal: null,
            reason: 'HOST_KEY_MISMATCH',
          },
        ],
      });
      expect((await t.store.getTask(tasks[3]?.taskId as string))?.reason).toBe('ROLLOUT_HALTED');
      // b was running at the halt; its failure would retry, but a halted rollout starts nothing more.
      await t.report(T0 + 3, {
        results: [result(b as string, 1, T0 + 3, 1), result(c as string, 1, T0 + 3, 0)],
      });
      expect(await t.store.getTask(b as string)).toMatchObject({
        status: 'cancelled',
        reason: 'ROLLOUT_HALTED',
      });
      expect((await t.store.getTask(c as string))?.status).toBe('completed');
      expect(await t.store.queueStats(T0 + 100)).toMatchObject({ retrying: 0, pending: { 3: 0 } });
      expect(await t.store.getMachine('m1')).toMatchObject({ running: 0, pending: 0 });
      expect(await t.claim(T0 + 100)).toEqual([]);
    });

    it('cancels the rest of the batch once more than maxFailures failed', async () => {
      await t.machine('m1', 10);
      const batchId = randomUUID();
      const tasks = Array.from({ length: 6 }, () =>
        newTask('m1', { batchId, retryCount: 1, retryDelaySeconds: 60 }),
      );
      await t.store.insertTasks(tasks, T0, { batchId, maxRunning: 3, maxFailures: 1 });
      const [a, b, c] = await t.claim(T0 + 1);
      // a fails for good (no retries: killed by the host key check), b and c fail and would retry.
      const out = await t.report(T0 + 2, {
        results: [
          {
            taskId: a as string,
            attempt: 1,
            at: T0 + 2,
            exitCode: null,
            signal: null,
            reason: 'HOST_KEY_MISMATCH',
          },
          result(b as string, 1, T0 + 2, 1),
        ],
      });
      expect(out.changes.alerts).toBe(1);
      expect((await t.store.getTask(b as string))?.status).toBe('retrying');
      const halt = await t.report(T0 + 3, {
        results: [
          {
            taskId: c as string,
            attempt: 1,
            at: T0 + 3,
            exitCode: null,
            signal: null,
            reason: 'MACHINE_DELETED',
          },
        ],
      });
      const cancelled = halt.changes.tasks.filter((x) => x.status === 'cancelled').map((x) => x.taskId);
      expect(cancelled.sort()).toEqual([b, ...tasks.slice(3).map((x) => x.taskId)].sort());
      for (const id of cancelled) {
        expect(await t.store.getTask(id as string)).toMatchObject({
          status: 'cancelled',
          reason: 'ROLLOUT_HALTED',
        });
      }
      expect(await t.store.getMachine('m1')).toMatchObject({ running: 0, pending: 0 });
      expect(await t.store.queueStats(T0 + 3)).toMatchObject({ retrying: 0, pending: { 3: 0 } });
      expect(await t.claim(T0 + 4)).toEqual([]);
    });
  });

  describe('idempotent creation', () => {
    it('stores the answer with the tasks and refuses the key a second time', async () => {
      await t.machine('m1');
      const idem = { actor: 'ann', key: 'k-1', response: '{"ok":true}' };
      await t.store.insertTasks([newTask('m1')], T0, undefined, idem);
      expect(await t.store.getIdempotent('ann', 'k-1')).toBe('{"ok":true}');
      expect(await t.store.getIdempotent('bob', 'k-1')).toBeNull();
      await expect(t.store.insertTasks([newTask('m1')], T0, undefined, idem)).rejects.toMatchObject({
        code: 'IDEMPOTENT_REPLAY',
        statusCode: 409,
      });
      expect(await t.store.listTasks({ limit: 10 })).toHaveLength(1);
      // A batch that fails stores no key.
      await expect(
        t.store.insertTasks([newTask('ghost')], T0, undefined, { ...idem, key: 'k-2' }),
      ).rejects.toMatchObject({ code: 'MACHINE_NOT_FOUND' });
      expect(await t.store.getIdempotent('ann', 'k-2')).toBeNull();
    });
  });

  describe('task history', () => {
    it('lists tasks newest first by every filter, and pages by seq', async () => {
      await t.store.createTeam('ops', T0);
      await t.machine('m1', 5);
      await t.machine('o1', 5, { team: 'ops' });
      const batchId = randomUUID();
      const ids = [
        await t.add('m1', { priority: 2 }),
        await t.add('o1', { batchId }),
        await t.add('m1', { batchId }),
        await t.add('o1', { priority: 5 }),
      ];
      const list = async (f: Partial<Parameters<typeof t.store.listTasks>[0]>) =>
        (await t.store.listTasks({ limit: 10, ...f })).map((x) => x.taskId);
      expect(await list({})).toEqual([...ids].reverse());
      expect(await list({ machine: 'm1' })).toEqual([ids[2], ids[0]]);
      expect(await list({ team: 'ops', priority: 3 })).toEqual([ids[1]]);
      expect(await list({ batchId })).toEqual([ids[2], ids[1]]);
      expect(await list({ teams: new Set(['ops']) })).toEqual([ids[3], ids[1]]);
      expect(await list({ teams: new Set() })).toEqual([]);
      const seq = (await t.store.getTask(ids[2] as string))?.seq as number;
      expect(await list({ beforeSeq: seq, limit: 1 })).toEqual([ids[1]]);
      await t.claim(T0 + 1);
      expect(await list({ status: 'assigned', machine: 'o1' })).toEqual([ids[3], ids[1]]);
    });

    it('hands out ended tasks for archiving, oldest first, and forgets their output', async () => {
      await t.machine('m1', 5);
      const a = await t.add('m1');
      const b = await t.add('m1');
      const c = await t.add('m1');
      await t.claim(T0);
      await t.report(T0 + 1, {
        output: [{ taskId: b, attempt: 1, chunk: 0, stream: 'stdout', at: T0 + 1, data: 'NUL\u0000 ok\n' }],
        results: [result(b, 1, T0 + 5, 0), result(a, 1, T0 + 7, 1)],
      });
      expect((await t.store.listOutput(b, 0, 10)).map((x) => x.data)).toEqual(['NUL\u0000 ok\n']);
      expect(await t.store.archiveCandidates(T0 + 100, 10)).toEqual([
        { taskId: b, team: 'default', machine: 'm1', finishedAt: T0 + 5 },
        { taskId: a, team: 'default', machine: 'm1', finishedAt: T0 + 7 },
      ]);
      expect(await t.store.archiveCandidates(T0 + 6, 10)).toHaveLength(1);
      await t.store.markOutputArchived(b, 'archive/b.jsonl.gz');
      await t.store.markOutputArchived('00000000-0000-0000-0000-000000000000', 'x');
      expect(await t.store.listOutput(b, 0, 10)).toEqual([]);
      expect((await t.store.getTask(b))?.outputArchive).toBe('archive/b.jsonl.gz');
      expect((await t.store.archiveCandidates(T0 + 100, 10)).map((x) => x.taskId)).toEqual([a]);
      expect((await t.store.getTask(c))?.status).toBe('assigned');
    });
  });
});
