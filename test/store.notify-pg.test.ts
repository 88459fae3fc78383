import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMuted } from '../src/notify/rules.js';
import type { ConditionObservation } from '../src/store/notify-store.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { dropTestDatabase, openStore, T0, testDatabaseUrl } from './helpers/store.js';

/** Two replicas: two PostgresStore instances (two pools) on one database, notifying at once. */
let a: PostgresStore;
let b: PostgresStore;

afterAll(dropTestDatabase);

beforeEach(async () => {
  await (await openStore('postgres')).dispose(); // the test file's database, migrated and empty
  const url = await testDatabaseUrl();
  a = new PostgresStore(url, { poolSize: 4 });
  b = new PostgresStore(url, { poolSize: 4 });
});

afterEach(async () => {
  await Promise.all([a.close(), b.close()]);
});

const TEAMS = 40;
const teams = Array.from({ length: TEAMS }, (_, i) => `t${String(i).padStart(2, '0')}`);

function breached(team: string): ConditionObservation {
  return {
    team,
    key: 'queue',
    state: 'breached',
    holdMs: 0,
    fire: { kind: 'queue_high', message: `${team} high` },
    recover: { kind: 'queue_recovered', message: `${team} ok` },
  };
}

async function setUp(): Promise<void> {
  for (const team of teams) {
    await a.createTeam(team, T0);
    for (const name of ['hook', 'mail']) {
      await a.notify.createChannel(
        { team, name, type: 'webhook', config: { url: 'http://127.0.0.1:9/' }, createdBy: null },
        [{ key: `channel/${name}/secret`, ciphertext: '{"v":1,"iv":"x","ct":"y"}', expectedVersion: 0 }],
        'test',
        T0,
      );
    }
  }
}

describe('notifications on two replicas of one PostgreSQL database', () => {
  it('observing the same breach at once raises one alert per team, and one recovery', async () => {
    await setUp();
    const obs = teams.map(breached);
    const raised = await Promise.all([
      a.notify.observeConditions(obs, T0 + 1),
      b.notify.observeConditions([...obs].reverse(), T0 + 1),
      a.notify.observeConditions(obs, T0 + 2),
      b.notify.observeConditions(obs, T0 + 2),
    ]);
    expect(raised.reduce((x, y) => x + y, 0)).toBe(TEAMS);
    const clear = obs.map((o) => ({ ...o, state: 'clear' as const }));
    const recovered = await Promise.all([
      a.notify.observeConditions(clear, T0 + 3),
      b.notify.observeConditions(clear, T0 + 3),
    ]);
    expect(recovered.reduce((x, y) => x + y, 0)).toBe(TEAMS);
    const alerts = await a.listAlerts({ limit: 1000 });
    for (const team of teams) {
      expect(alerts.filter((x) => x.team === team).map((x) => x.kind)).toEqual([
        'queue_recovered',
        'queue_high',
      ]);
    }
  });

  it('fan-out and claims at once: every (alert, channel) once, every delivery claimed by exactly one', async () => {
    await setUp();
    await a.notify.observeConditions(teams.map(breached), T0);
    const fan = (s: PostgresStore) =>
      s.notify.fanOut(T0 + 1, { limit: 7, expiresAfterMs: 3_600_000, muted: isMuted });
    const fanned = async (s: PostgresStore) => {
      let n = 0;
      for (let i = 0; i < 20; i += 1) n += await fan(s);
      return n;
    };
    const written = await Promise.all([fanned(a), fanned(b), fanned(a), fanned(b)]);
    expect(written.reduce((x, y) => x + y, 0)).toBe(TEAMS * 2);

    const drain = async (s: PostgresStore, replica: string) => {
      const got: number[] = [];
      for (;;) {
        const { deliveries } = await s.notify.claimDeliveries({
          now: T0 + 2,
          replica,
          leaseMs: 60_000,
          max: 3,
        });
        if (deliveries.length === 0) return got;
        got.push(...deliveries.map((d) => d.id));
      }
    };
    const claimed = await Promise.all([drain(a, 'ra'), drain(b, 'rb'), drain(a, 'rc'), drain(b, 'rd')]);
    const all = claimed.flat();
    expect(all).toHaveLength(TEAMS * 2);
    expect(new Set(all).size).toBe(TEAMS * 2);
    // Each claimer recorded its own: results from another replica are refused.
    const [mine] = claimed;
    if (mine !== undefined && mine.length > 0) {
      expect(await b.notify.finishDelivery(mine[0] as number, 'rb', { status: 'sent' }, T0 + 3)).toBe(false);
      expect(await b.notify.finishDelivery(mine[0] as number, 'ra', { status: 'sent' }, T0 + 3)).toBe(true);
    }
  });
});
