import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMuted } from '../src/notify/rules.js';
import {
  claimRequest,
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

const DAY = 86_400_000;

/** A task with failureAction alert whose one attempt fails at `now`: one alert. */
async function failedWithAlert(now: number): Promise<string> {
  const id = await t.add('m1', { failureAction: 'alert' }, now);
  const [a] = await t.store.claim(claimRequest(now, { max: 1 }));
  if (a === undefined) throw new Error('nothing claimed');
  await t.report(now, { results: [result(id, 1, now + 1, 1)] });
  return id;
}

describe.each(STORES)('%s store: pruning history', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.machine('m1', 4);
    await t.machine('idle', 1);
  });
  afterEach(async () => {
    await t.close();
  });

  it('forgets old idempotency keys and old alerts with ended deliveries, keeps the rest', async () => {
    await t.store.insertTasks([newTask('idle')], T0, undefined, { actor: 'ann', key: 'old', response: '{}' });
    await t.store.insertTasks([newTask('idle')], T0 + 10 * DAY, undefined, {
      actor: 'ann',
      key: 'new',
      response: '{}',
    });
    await t.store.notify.createChannel(
      {
        team: 'default',
        name: 'hook',
        type: 'webhook',
        config: { url: 'http://127.0.0.1:9/' },
        createdBy: 'ann',
      },
      [{ key: 'channel/hook/secret', ciphertext: '{"v":1}', expectedVersion: 0 }],
      'ann',
      T0,
    );
    const fan = (now: number) =>
      t.store.notify.fanOut(now, { limit: 100, expiresAfterMs: 100 * DAY, muted: isMuted });
    // Three old alerts: one delivered, one failed for good, one still retrying; and a recent one.
    const sent = await failedWithAlert(T0 + 1_000);
    const gaveUp = await failedWithAlert(T0 + 2_000);
    const retrying = await failedWithAlert(T0 + 3_000);
    expect(await fan(T0 + 4_000)).toBe(3);
    const { deliveries } = await t.store.notify.claimDeliveries({
      now: T0 + 5_000,
      replica: 'r1',
      leaseMs: 60_000,
      max: 10,
    });
    expect(deliveries).toHaveLength(3);
    const byTask = new Map(deliveries.map((d) => [d.alert.taskId, d.id]));
    await t.store.notify.finishDelivery(byTask.get(sent) as number, 'r1', { status: 'sent' }, T0 + 6_000);
    await t.store.notify.finishDelivery(
      byTask.get(gaveUp) as number,
      'r1',
      { status: 'failed', error: 'HTTP 404' },
      T0 + 6_000,
    );
    await t.store.notify.finishDelivery(
      byTask.get(retrying) as number,
      'r1',
      { status: 'retrying', nextAt: T0 + 50 * DAY, error: 'HTTP 500' },
      T0 + 6_000,
    );
    const recent = await failedWithAlert(T0 + 35 * DAY);
    await fan(T0 + 35 * DAY);

    const pruned = await t.store.pruneHistory(T0 + 7 * DAY, T0 + 30 * DAY);
    expect(pruned).toEqual({ idempotencyKeys: 1, alerts: 2 });
    expect(await t.store.getIdempotent('ann', 'old')).toBeNull();
    expect(await t.store.getIdempotent('ann', 'new')).toBe('{}');
    const left = (await t.store.listAlerts({ limit: 10 })).map((a) => a.taskId).sort();
    expect(left).toEqual([retrying, recent].sort());
    // Nothing more to do the second time.
    expect(await t.store.pruneHistory(T0 + 7 * DAY, T0 + 30 * DAY)).toEqual({
      idempotencyKeys: 0,
      alerts: 0,
    });
  });
});
