import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '../src/server/bus.js';
import { PgBus } from '../src/store/postgres/pg-bus.js';
import type { OutputChunk } from '../src/store/store.js';
import {
  dropTestDatabase,
  openTestStore,
  result,
  T0,
  type TestStore,
  testDatabaseUrl,
} from './helpers/store.js';

/** Two replicas' buses on one database, and the store the output is read back from. */
let t: TestStore;
let url: string;
let a: PgBus;
let b: PgBus;
let errors: unknown[];

afterAll(dropTestDatabase);

beforeEach(async () => {
  t = await openTestStore('postgres');
  url = await testDatabaseUrl();
  errors = [];
  const options = {
    store: t.store,
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    onError: (e: unknown) => errors.push(e),
  };
  a = new PgBus(url, options);
  b = new PgBus(url, options);
  await Promise.all([a.start(), b.start()]);
});

afterEach(async () => {
  await Promise.all([a.close(), b.close()]);
  await t.close();
});

/** The next event of `topic` on `bus`, or a failure after `ms`. */
function next(bus: PgBus, topic: string, ms = 5_000): Promise<BusEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no event on ${topic} within ${ms} ms`));
    }, ms);
    const off = bus.subscribe(topic, (e) => {
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** Everything NOTIFY sends on the channel, as another listener sees it. */
async function spy(): Promise<{ payloads: string[]; close(): Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const payloads: string[] = [];
  c.on('notification', (n) => payloads.push(n.payload ?? ''));
  await c.query('LISTEN rediacc');
  return { payloads, close: () => c.end() };
}

describe('PgBus', () => {
  it('carries events to the other replica, and to local subscribers once', async () => {
    const local: BusEvent[] = [];
    a.subscribe('region:default', (e) => local.push(e));
    const remote = next(b, 'region:default');
    a.publish('region:default', { type: 'wake' });
    expect(await remote).toEqual({ type: 'wake' });
    const status = next(a, 'task:x');
    b.publish('task:x', { type: 'status', taskId: 'x', status: 'running' });
    expect(await status).toEqual({ type: 'status', taskId: 'x', status: 'running' });
    // The publisher's own notification came back too, and was skipped.
    await new Promise((r) => setTimeout(r, 100));
    expect(local).toEqual([{ type: 'wake' }]);
    expect(errors).toEqual([]);
  });

  it('stops delivering after unsubscribe', async () => {
    const seen: BusEvent[] = [];
    const off = b.subscribe('bridge:b1', (e) => seen.push(e));
    const first = next(b, 'bridge:b1');
    a.publish('bridge:b1', { type: 'wake' });
    await first;
    off();
    const later = next(b, 'bridge:b2');
    a.publish('bridge:b1', { type: 'wake' });
    a.publish('bridge:b2', { type: 'wake' });
    await later;
    expect(seen).toHaveLength(1);
  });

  it('sends output as ids and hands on the chunk read back from the store', async () => {
    await t.machine('m1');
    const id = await t.add('m1');
    await t.claim(T0);
    const big = 'x'.repeat(20_000); // far beyond what a NOTIFY payload may hold
    const r = await t.report(T0 + 1, {
      output: [{ taskId: id, attempt: 1, chunk: 0, stream: 'stdout', at: T0 + 1, data: big }],
      results: [result(id, 1, T0 + 2, 0)],
    });
    const stored = r.stored[0]?.chunk as OutputChunk;
    const watch = await spy();
    try {
      const got = next(b, `task:${id}`);
      a.publish(`task:${id}`, { type: 'output', taskId: id, chunk: stored });
      expect(await got).toEqual({ type: 'output', taskId: id, chunk: stored });
      expect(watch.payloads).toHaveLength(1);
      expect(JSON.parse(watch.payloads[0] as string)).toMatchObject({
        e: [{ t: `task:${id}`, v: { type: 'output', taskId: id, chunkId: stored.id } }],
      });
      expect((watch.payloads[0] as string).length).toBeLessThan(500);
    } finally {
      await watch.close();
    }
  });

  it('keeps the order of a replica’s events, output included', async () => {
    await t.machine('m1');
    const id = await t.add('m1');
    await t.claim(T0);
    const r = await t.report(T0 + 1, {
      output: [0, 1, 2].map((n) => ({
        taskId: id,
        attempt: 1,
        chunk: n,
        stream: 'stdout' as const,
        at: T0,
        data: `${n}`,
      })),
    });
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      b.subscribe(`task:${id}`, (e) => {
        seen.push(e.type === 'output' ? e.chunk.data : e.type === 'status' ? e.status : e.type);
        if (seen.length === 5) resolve();
      });
    });
    a.publish(`task:${id}`, { type: 'status', taskId: id, status: 'running' });
    for (const s of r.stored) a.publish(`task:${id}`, { type: 'output', taskId: id, chunk: s.chunk });
    a.publish(`task:${id}`, { type: 'status', taskId: id, status: 'completed' });
    await done;
    expect(seen).toEqual(['running', '0', '1', '2', 'completed']);
  });

  it('sends a burst of events as few notifications, every event arriving in order', async () => {
    const watch = await spy();
    try {
      const seen: string[] = [];
      const all = new Promise<void>((resolve) => {
        b.subscribe('task:burst', (e) => {
          if (e.type === 'status') seen.push(e.status);
          if (seen.length === 2_000) resolve();
        });
      });
      let woken = 0;
      b.subscribe('region:burst', () => {
        woken += 1;
      });
      for (let i = 0; i < 2_000; i += 1) {
        a.publish('task:burst', { type: 'status', taskId: 'burst', status: `s${i}` });
        a.publish('region:burst', { type: 'wake' });
      }
      await all;
      expect(seen).toEqual(Array.from({ length: 2_000 }, (_, i) => `s${i}`));
      // The watching connection hears the same notifications, on its own time.
      const statusEvents = () =>
        watch.payloads
          .flatMap((p) => (JSON.parse(p) as { e: { v: { type: string } }[] }).e)
          .filter((e) => e.v.type === 'status').length;
      for (let i = 0; i < 200 && statusEvents() < 2_000; i += 1) await new Promise((r) => setTimeout(r, 25));
      expect(statusEvents()).toBe(2_000);
      // 4,000 events, but a handful of notifications; a region's repeated wake crosses once per notification.
      expect(watch.payloads.length).toBeLessThan(100);
      expect(woken).toBeLessThanOrEqual(watch.payloads.length);
      expect(woken).toBeGreaterThan(0);
      for (const p of watch.payloads) expect(Buffer.byteLength(p)).toBeLessThan(8_000);
      expect(errors).toEqual([]);
    } finally {
      await watch.close();
    }
  });

  it('turns an event too large for NOTIFY into a wake', async () => {
    const got = next(b, 'task:big');
    a.publish('task:big', { type: 'status', taskId: 'big', status: 's'.repeat(9_000) });
    expect(await got).toEqual({ type: 'wake' });
  });

  it('reconnects after the LISTEN connection is lost and wakes every subscriber', async () => {
    const woke = next(b, 'region:default');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'rediacc-bus' AND query ILIKE 'LISTEN%' AND datname = current_database()`,
      );
      expect(killed.rowCount).toBe(2);
    } finally {
      await admin.end();
    }
    expect(await woke).toEqual({ type: 'wake' });
    expect(errors.length).toBeGreaterThan(0);
    // Listening again: events cross as before.
    const after = next(b, 'task:y');
    a.publish('task:y', { type: 'status', taskId: 'y', status: 'pending' });
    expect(await after).toEqual({ type: 'status', taskId: 'y', status: 'pending' });
  });
});
