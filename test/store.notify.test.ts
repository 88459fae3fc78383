import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMuted } from '../src/notify/rules.js';
import { LOST_LEASE_ERROR, MUTED_NOTE, NO_CHANNEL_NOTE, UNFANNED_NOTE } from '../src/store/notify-rows.js';
import type { ConditionObservation } from '../src/store/notify-store.js';
import {
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

const sealed = (n: number) => `{"v":1,"iv":"x","ct":"secret-${n}"}`;
const HOUR = 3_600_000;
const fan = (now: number) =>
  t.store.notify.fanOut(now, { limit: 100, expiresAfterMs: 24 * HOUR, muted: isMuted });
const claim = (now: number, replica = 'r1', max = 10) =>
  t.store.notify.claimDeliveries({ now, replica, leaseMs: 60_000, max });

function webhook(name: string, team = 'default') {
  return t.store.notify.createChannel(
    { team, name, type: 'webhook', config: { url: 'http://127.0.0.1:9/hook' }, createdBy: 'ann' },
    [{ key: `channel/${name}/secret`, ciphertext: sealed(1), expectedVersion: 0 }],
    'ann',
    T0,
  );
}

/** A task with retryCount 2 and failureAction alert that fails all three attempts. */
async function failingTask(now: number): Promise<string> {
  const id = await t.add('m1', { retryCount: 2, retryDelaySeconds: 1, failureAction: 'alert' }, now);
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const [a] = await t.store.claim(claimRequest(now, { max: 1 }));
    if (a === undefined) throw new Error('nothing claimed');
    await t.report(now, { started: [{ taskId: id, attempt, at: now }] });
    now += 10;
    await t.report(now, { results: [result(id, attempt, now, 1)] });
    now += 1000;
    await t.store.promoteDueRetries(now);
  }
  return id;
}

function queueObs(state: ConditionObservation['state'], holdMs = 0, team = 'default'): ConditionObservation {
  return {
    team,
    key: 'queue',
    state,
    holdMs,
    fire: { kind: 'queue_high', message: 'queue high' },
    recover: { kind: 'queue_recovered', message: 'queue normal' },
  };
}

describe.each(STORES)('%s store: notifications', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.machine('m1', 4);
  });
  afterEach(async () => {
    await t.close();
  });

  describe('channels', () => {
    it('creates a channel and its vault value at once; a taken name writes nothing', async () => {
      const c = await webhook('hooks');
      expect(c).toMatchObject({
        team: 'default',
        name: 'hooks',
        type: 'webhook',
        config: { url: 'http://127.0.0.1:9/hook' },
        secretKeys: ['channel/hooks/secret'],
        createdBy: 'ann',
      });
      expect(await t.store.vault.getSecret('default', 'channel/hooks/secret')).toMatchObject({
        version: 1,
        ciphertext: sealed(1),
      });
      await expect(
        t.store.notify.createChannel(
          { team: 'default', name: 'hooks', type: 'slack', config: {}, createdBy: 'bob' },
          [{ key: 'channel/hooks/url', ciphertext: sealed(2), expectedVersion: 0 }],
          'bob',
          T0 + 1,
        ),
      ).rejects.toMatchObject({ code: 'CHANNEL_EXISTS', statusCode: 409 });
      expect(await t.store.vault.getSecret('default', 'channel/hooks/url')).toBeNull();
      expect((await t.store.notify.listChannels({})).map((x) => x.type)).toEqual(['webhook']);
    });

    it('a vault version conflict or an unknown team creates nothing', async () => {
      await t.store.vault.putSecret('default', 'channel/x/secret', sealed(0), 0, 'ann', T0);
      await expect(webhook('x')).rejects.toMatchObject({ code: 'VAULT_VERSION_CONFLICT' });
      expect(await t.store.notify.getChannel('default', 'x')).toBeNull();
      expect((await t.store.vault.getSecret('default', 'channel/x/secret'))?.ciphertext).toBe(sealed(0));
      await expect(webhook('y', 'nope')).rejects.toMatchObject({ code: 'TEAM_NOT_FOUND' });
      expect(await t.store.notify.listChannels({})).toEqual([]);
    });

    it('lists by team and visibility; delete removes its vault values only', async () => {
      await t.store.createTeam('ops', T0);
      await webhook('a');
      await webhook('a_b');
      await webhook('b', 'ops');
      await t.store.vault.putSecret('default', 'app/secret', sealed(9), 0, 'ann', T0);
      expect((await t.store.notify.listChannels({})).map((c) => `${c.team}/${c.name}`)).toEqual([
        'default/a',
        'default/a_b',
        'ops/b',
      ]);
      expect((await t.store.notify.listChannels({ team: 'ops' })).map((c) => c.name)).toEqual(['b']);
      expect((await t.store.notify.listChannels({ teams: new Set(['ops']) })).map((c) => c.name)).toEqual([
        'b',
      ]);
      await t.store.notify.deleteChannel('default', 'a', T0 + 5);
      expect((await t.store.vault.listSecrets('default')).map((s) => s.name)).toEqual([
        'app/secret',
        'channel/a_b/secret',
      ]);
      await expect(t.store.notify.deleteChannel('default', 'a', T0 + 6)).rejects.toMatchObject({
        code: 'CHANNEL_NOT_FOUND',
      });
    });
  });

  describe('fan-out and outbox', () => {
    it('a task failing all its retries makes one delivery per channel, however often fan-out runs', async () => {
      await webhook('one');
      await webhook('two');
      const id = await failingTask(T0);
      expect(await fan(T0 + 10_000)).toBe(2);
      expect(await fan(T0 + 10_001)).toBe(0);
      const [alert] = await t.store.listAlerts({ limit: 10 });
      expect(alert).toMatchObject({ kind: 'task_failed', taskId: id });
      const ds = await t.store.notify.deliveriesOf([alert?.id ?? 0]);
      expect(ds.map((d) => [d.channel, d.status, d.attempts])).toEqual([
        ['one', 'pending', 0],
        ['two', 'pending', 0],
      ]);
      expect(new Set(ds.map((d) => d.deliveryId)).size).toBe(2);
      expect(ds[0]?.expiresAt).toBe(T0 + 10_000 + 24 * HOUR);
    });

    it('notes why an alert goes nowhere: no channel, or the team turned the kind off', async () => {
      await failingTask(T0);
      const [a1] = await t.store.listAlerts({ limit: 1 });
      expect(await t.store.notify.deliveryNotes([a1?.id ?? 0])).toEqual(new Map([[a1?.id, UNFANNED_NOTE]]));
      await fan(T0 + 10_000);
      expect(await t.store.notify.deliveryNotes([a1?.id ?? 0])).toEqual(new Map([[a1?.id, NO_CHANNEL_NOTE]]));
      await webhook('hooks');
      await t.store.notify.setAlertRules('default', JSON.stringify({ taskFailed: false }), T0);
      await failingTask(T0 + 20_000);
      expect(await fan(T0 + 40_000)).toBe(0);
      const [a2] = await t.store.listAlerts({ limit: 1 });
      expect(await t.store.notify.deliveryNotes([a2?.id ?? 0])).toEqual(new Map([[a2?.id, MUTED_NOTE]]));
      expect(await t.store.notify.deliveriesOf([a2?.id ?? 0])).toEqual([]);
    });

    it('claims a delivery once; retrying waits for its time; only the holder records a result', async () => {
      await webhook('hooks');
      await failingTask(T0);
      await fan(T0 + 10_000);
      const now = T0 + 20_000;
      const first = await claim(now, 'r1');
      expect(first.deliveries).toHaveLength(1);
      const d = first.deliveries[0];
      expect(d).toMatchObject({ attempt: 1, alert: { kind: 'task_failed' }, channel: { name: 'hooks' } });
      expect((await claim(now, 'r2')).deliveries).toEqual([]);
      if (d === undefined) return;
      expect(await t.store.notify.finishDelivery(d.id, 'r2', { status: 'sent' }, now)).toBe(false);
      expect(
        await t.store.notify.finishDelivery(
          d.id,
          'r1',
          { status: 'retrying', nextAt: now + 10_000, error: 'HTTP 500' },
          now,
        ),
      ).toBe(true);
      expect((await claim(now + 9_999, 'r2')).deliveries).toEqual([]);
      const again = await claim(now + 10_000, 'r2');
      expect(again.deliveries.map((x) => [x.id, x.attempt])).toEqual([[d.id, 2]]);
      expect(await t.store.notify.finishDelivery(d.id, 'r2', { status: 'sent' }, now + 10_001)).toBe(true);
      const [state] = await t.store.notify.deliveriesOf([d.alert.id]);
      expect(state).toMatchObject({
        status: 'sent',
        attempts: 2,
        lastError: 'HTTP 500',
        sentAt: now + 10_001,
        nextAt: null,
      });
      expect((await claim(now + 100_000, 'r3')).deliveries).toEqual([]);
    });

    it('takes a delivery back when its sender’s lease ran out; the old sender’s result is ignored', async () => {
      await webhook('hooks');
      await failingTask(T0);
      await fan(T0 + 10_000);
      const [d] = (await claim(T0 + 20_000, 'r1')).deliveries;
      expect((await claim(T0 + 20_000 + 59_999, 'r2')).deliveries).toEqual([]);
      const [back] = (await claim(T0 + 20_000 + 60_000, 'r2')).deliveries;
      expect(back).toMatchObject({ id: d?.id, attempt: 2 });
      expect(await t.store.notify.finishDelivery(d?.id ?? 0, 'r1', { status: 'sent' }, T0 + 80_001)).toBe(
        false,
      );
      const [state] = await t.store.notify.deliveriesOf([d?.alert.id ?? 0]);
      expect(state).toMatchObject({ status: 'sending', attempts: 2, lastError: LOST_LEASE_ERROR });
      expect(
        await t.store.notify.finishDelivery(
          back?.id ?? 0,
          'r2',
          { status: 'failed', error: 'HTTP 404' },
          T0 + 80_002,
        ),
      ).toBe(true);
      expect((await t.store.notify.deliveriesOf([d?.alert.id ?? 0]))[0]).toMatchObject({
        status: 'failed',
        lastError: 'HTTP 404',
      });
    });

    it('a delivery not sent before it expires fails and is reported as expired', async () => {
      await webhook('hooks');
      await failingTask(T0);
      await fan(T0 + 10_000);
      const [d] = (await claim(T0 + 20_000)).deliveries;
      await t.store.notify.finishDelivery(
        d?.id ?? 0,
        'r1',
        { status: 'retrying', nextAt: T0 + 30_000, error: 'HTTP 503' },
        T0 + 20_001,
      );
      const late = await claim(T0 + 10_000 + 24 * HOUR);
      expect(late.deliveries).toEqual([]);
      expect(late.expired).toEqual([{ channelType: 'webhook' }]);
      expect((await t.store.notify.deliveriesOf([d?.alert.id ?? 0]))[0]).toMatchObject({
        status: 'failed',
        lastError: 'expired; last error: HTTP 503',
      });
    });

    it('deleting a channel fails its unsent deliveries', async () => {
      await webhook('hooks');
      await failingTask(T0);
      await fan(T0 + 10_000);
      await t.store.notify.deleteChannel('default', 'hooks', T0 + 10_001);
      const [a] = await t.store.listAlerts({ limit: 1 });
      expect((await t.store.notify.deliveriesOf([a?.id ?? 0]))[0]).toMatchObject({
        status: 'failed',
        lastError: 'the channel was deleted',
      });
      expect((await claim(T0 + 20_000)).deliveries).toEqual([]);
    });
  });

  it('a delivery whose team was deleted fails instead of being claimed', async () => {
    await t.store.createTeam('ops', T0);
    await t.store.notify.createChannel(
      {
        team: 'ops',
        name: 'mail',
        type: 'email',
        config: { smtp: { host: 'h', port: 25, tls: 'none', user: null }, from: 'a@b.c', to: ['d@e.f'] },
        createdBy: null,
      },
      [],
      'ann',
      T0,
    );
    expect(await t.store.notify.observeConditions([queueObs('breached', 0, 'ops')], T0)).toBe(1);
    expect(await fan(T0 + 1)).toBe(1);
    await t.store.deleteTeam('ops');
    expect(await t.store.notify.listChannels({})).toEqual([]);
    expect((await claim(T0 + 2)).deliveries).toEqual([]);
    expect((await claim(T0 + 100_000)).deliveries).toEqual([]);
    // The first alert of a fresh store has id 1 (its team is gone, so listAlerts no longer shows it).
    expect(await t.store.notify.deliveriesOf([1])).toEqual([
      expect.objectContaining({ status: 'failed', lastError: 'the channel was deleted', attempts: 1 }),
    ]);
  });

  describe('conditions and rules', () => {
    it('alerts once after the hold time and once on recovery; off forgets silently', async () => {
      const obs = t.store.notify;
      expect(await obs.observeConditions([queueObs('breached', 60_000)], T0)).toBe(0);
      expect(await obs.observeConditions([queueObs('breached', 60_000)], T0 + 59_999)).toBe(0);
      expect(await obs.observeConditions([queueObs('breached', 60_000)], T0 + 60_000)).toBe(1);
      expect(await obs.observeConditions([queueObs('breached', 60_000)], T0 + 90_000)).toBe(0);
      expect(await obs.observeConditions([queueObs('clear')], T0 + 100_000)).toBe(1);
      expect(await obs.observeConditions([queueObs('clear')], T0 + 110_000)).toBe(0);
      // A breach shorter than the hold time alerts neither way.
      expect(await obs.observeConditions([queueObs('breached', 60_000)], T0 + 120_000)).toBe(0);
      expect(await obs.observeConditions([queueObs('clear')], T0 + 130_000)).toBe(0);
      // Turned off while alerted: no recovery notice.
      await obs.observeConditions([queueObs('breached')], T0 + 140_000);
      expect(await obs.observeConditions([queueObs('off')], T0 + 150_000)).toBe(0);
      expect(await obs.observeConditions([queueObs('clear')], T0 + 160_000)).toBe(0);
      const kinds = (await t.store.listAlerts({ limit: 10 })).map((a) => a.kind).reverse();
      expect(kinds).toEqual(['queue_high', 'queue_recovered', 'queue_high']);
    });

    it('reads pending levels from the counters and the longest-waiting task of each team', async () => {
      await t.store.createTeam('ops', T0);
      await t.machine('m2', 1, { team: 'ops' });
      const old = await t.add('m1', { priority: 2 }, T0);
      await t.add('m1', { priority: 2 }, T0 + 10);
      await t.add('m1', { priority: 4 }, T0 + 20);
      const ops = await t.add('m2', {}, T0 + 30);
      const levels = await t.store.notify.pendingLevels();
      expect(levels.sort((a, b) => a.team.localeCompare(b.team) || a.priority - b.priority)).toEqual([
        { team: 'default', priority: 2, pending: 2 },
        { team: 'default', priority: 4, pending: 1 },
        { team: 'ops', priority: 3, pending: 1 },
      ]);
      const oldest = await t.store.notify.oldestWaiting();
      expect(oldest.sort((a, b) => a.team.localeCompare(b.team))).toEqual([
        { team: 'default', taskId: old, machine: 'm1', queuedAt: T0 },
        { team: 'ops', taskId: ops, machine: 'm2', queuedAt: T0 + 30 },
      ]);
    });

    it('stores rule settings per team', async () => {
      await t.store.createTeam('ops', T0);
      expect(await t.store.notify.getAlertRules('ops')).toBeNull();
      await t.store.notify.setAlertRules('ops', '{"queueThreshold":5}', T0);
      await t.store.notify.setAlertRules('ops', '{"queueThreshold":7}', T0 + 1);
      expect(await t.store.notify.getAlertRules('ops')).toBe('{"queueThreshold":7}');
      expect(await t.store.notify.listAlertRules()).toEqual([
        { team: 'default', rules: null },
        { team: 'ops', rules: '{"queueThreshold":7}' },
      ]);
      await expect(t.store.notify.setAlertRules('nope', '{}', T0)).rejects.toMatchObject({
        code: 'TEAM_NOT_FOUND',
      });
    });
  });
});
