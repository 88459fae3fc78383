import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptEvent } from '../src/store/store.js';
import { dropTestDatabase, openTestStore, result, STORES, T0, type TestStore } from './helpers/store.js';

// Queue stats fields for monitoring (lanes per team and priority, per-priority
// ages, busiest machines of the caller's teams) and the attempt events the
// metrics are made of, on both stores.

let t: TestStore;
afterAll(dropTestDatabase);

describe.each(STORES)('%s store', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.store.createTeam('other', T0);
    await t.machine('m1', 2);
    await t.machine('m2', 1);
    await t.machine('o1', 1, { team: 'other' });
  });
  afterEach(async () => {
    await t.close();
  });

  describe('queueStats for monitoring', () => {
    it('counts per team and priority in lanes, and pending over all priorities', async () => {
      await t.add('m1', { priority: 1 });
      await t.add('m1', { priority: 3 });
      await t.add('m2', { priority: 3 });
      await t.add('o1', { priority: 5 });
      await t.add('o1', { priority: 5 });
      await t.claim(T0 + 1, { max: 1 }); // the priority-1 task
      const s = await t.store.queueStats(T0 + 2);
      expect(s.pendingTotal).toBe(4);
      expect(s.lanes).toEqual([
        { team: 'default', priority: 1, pending: 0, retrying: 0, assigned: 1, running: 0, cancelling: 0 },
        { team: 'default', priority: 3, pending: 2, retrying: 0, assigned: 0, running: 0, cancelling: 0 },
        { team: 'other', priority: 5, pending: 2, retrying: 0, assigned: 0, running: 0, cancelling: 0 },
      ]);
      // The lanes add up to the totals.
      const sum = (k: 'pending' | 'assigned') => s.lanes.reduce((a, l) => a + l[k], 0);
      expect(sum('pending')).toBe(s.pendingTotal);
      expect(sum('assigned')).toBe(s.assigned);
      const own = await t.store.queueStats(T0 + 2, new Set(['other']));
      expect(own.pendingTotal).toBe(2);
      expect(own.lanes.map((l) => l.team)).toEqual(['other']);
    });

    it('keeps a lane at zero once its tasks are done (a steady series for metrics)', async () => {
      const id = await t.add('m2', { priority: 4 });
      await t.claim(T0);
      await t.report(T0 + 1, { started: [{ taskId: id, attempt: 1, at: T0 + 1 }] });
      await t.report(T0 + 2, { results: [result(id, 1, T0 + 2, 0)] });
      expect((await t.store.queueStats(T0 + 3)).lanes).toEqual([
        { team: 'default', priority: 4, pending: 0, retrying: 0, assigned: 0, running: 0, cancelling: 0 },
      ]);
    });

    it('gives the oldest waiting age per priority', async () => {
      await t.add('m1', { priority: 2 }, T0);
      await t.add('m1', { priority: 4 }, T0 + 1000);
      await t.add('m2', { priority: 4 }, T0 + 2000);
      const s = await t.store.queueStats(T0 + 5000);
      expect(s.oldestPendingAgeMsByPriority).toEqual({ 1: null, 2: 5000, 3: null, 4: 4000, 5: null });
      expect(s.oldestPendingAgeMs).toBe(5000);
    });

    it('lists the top N busiest machines, of the caller’s teams only', async () => {
      for (let i = 0; i < 3; i += 1) await t.add('m1');
      await t.add('m2');
      await t.add('o1');
      const all = await t.store.queueStats(T0, null, { busiest: 2 });
      expect(all.busiestMachines.map((m) => m.machine)).toEqual(['m1', 'm2']);
      // The team filter comes before the limit: 'other' still gets its machine.
      const other = await t.store.queueStats(T0, new Set(['other']), { busiest: 1 });
      expect(other.busiestMachines).toEqual([
        { machine: 'o1', team: 'other', running: 0, pending: 1, concurrency: 1 },
      ]);
      expect((await t.store.queueStats(T0)).busiestMachines).toHaveLength(3);
    });
  });

  describe('token scopes', () => {
    it('stores a metrics scope and reads it back with the token and in the owner’s list', async () => {
      const user = await t.store.createUser({ email: 'ops@example.com', isAdmin: true, now: T0 });
      const token = { kind: 'user' as const, userId: user.id, bridgeName: null, now: T0, expiresAt: null };
      await t.store.createToken({ ...token, hash: 'h-metrics', name: 'prom', scope: 'metrics' });
      await t.store.createToken({ ...token, hash: 'h-plain', name: 'cli' });
      expect(await t.store.findToken('h-metrics', T0)).toMatchObject({
        name: 'prom',
        isAdmin: true,
        scope: 'metrics',
      });
      expect(await t.store.findToken('h-plain', T0)).toMatchObject({ name: 'cli', scope: null });
      const listed = await t.store.identity.listTokens(user.id);
      expect(listed.map((x) => [x.name, x.scope])).toEqual([
        ['prom', 'metrics'],
        ['cli', null],
      ]);
    });
  });

  describe('attempt events for metrics', () => {
    const events = (r: { attempts?: AttemptEvent[] }) => r.attempts ?? [];

    it('a first start carries its wait since queueing; an end carries its run time and reason', async () => {
      const id = await t.add('m1', { priority: 2 }, T0);
      await t.claim(T0 + 1000);
      const started = await t.report(T0 + 1500, { started: [{ taskId: id, attempt: 1, at: T0 + 1500 }] });
      expect(events(started.changes)).toEqual([{ teamId: expect.any(Number), priority: 2, waitMs: 1500 }]);
      // The same start reported again is not counted twice.
      const again = await t.report(T0 + 1600, { started: [{ taskId: id, attempt: 1, at: T0 + 1500 }] });
      expect(events(again.changes)).toEqual([]);
      const ended = await t.report(T0 + 4000, { results: [result(id, 1, T0 + 4000, 3)] });
      expect(events(ended.changes)).toEqual([
        {
          teamId: expect.any(Number),
          priority: 2,
          ended: { status: 'failed', reason: 'EXIT_NONZERO', runMs: 2500 },
        },
      ]);
      // A result for an attempt that already ended changes nothing and says nothing.
      const late = await t.report(T0 + 5000, { results: [result(id, 1, T0 + 5000, 0)] });
      expect(events(late.changes)).toEqual([]);
    });

    it('a start after an automatic retry has no wait; a lost attempt ends without having started', async () => {
      const id = await t.add('m1', { retryCount: 1, retryDelaySeconds: 1 }, T0);
      await t.claim(T0);
      await t.report(T0 + 10, { started: [{ taskId: id, attempt: 1, at: T0 + 10 }] });
      await t.report(T0 + 20, { results: [result(id, 1, T0 + 20, 1)] });
      await t.store.promoteDueRetries(T0 + 2000);
      await t.claim(T0 + 2000);
      const second = await t.report(T0 + 2100, { started: [{ taskId: id, attempt: 2, at: T0 + 2100 }] });
      expect(events(second.changes)).toEqual([]);
      const done = await t.report(T0 + 2200, { results: [result(id, 2, T0 + 2200, 0)] });
      expect(events(done.changes)[0]?.ended).toEqual({ status: 'completed', reason: null, runMs: 100 });

      const never = await t.add('m2', {}, T0 + 3000);
      await t.claim(T0 + 3000);
      const lost = await t.store.expireLeases(T0 + 3000 + 60_000);
      expect(events(lost).map((e) => e.ended)).toEqual([{ status: 'lost', reason: 'LOST', runMs: null }]);
      expect((await t.store.getTask(never))?.status).toBe('failed');
    });

    it('a task retried by hand waits again from its new queue time', async () => {
      const id = await t.add('m1', {}, T0);
      await t.claim(T0);
      await t.report(T0 + 10, { started: [{ taskId: id, attempt: 1, at: T0 + 10 }] });
      await t.report(T0 + 20, { results: [result(id, 1, T0 + 20, 1)] });
      await t.store.requeueTask(id, T0 + 10_000);
      await t.claim(T0 + 10_000);
      const r = await t.report(T0 + 10_700, { started: [{ taskId: id, attempt: 2, at: T0 + 10_700 }] });
      expect(events(r.changes)).toEqual([{ teamId: expect.any(Number), priority: 3, waitMs: 700 }]);
    });
  });
});
