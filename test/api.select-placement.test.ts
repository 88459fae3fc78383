import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';

// --select: a task runs on the least loaded matching machine when a slot frees.
describe('placement by label selector', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    for (const n of [1, 2, 3, 4]) {
      const r = await t.api('POST', '/machines', {
        name: `web-${n}`,
        concurrency: 2,
        labels: { role: 'web', zone: n <= 2 ? 'a' : 'b' },
      });
      expect(r.status).toBe(201);
    }
    await t.api('POST', '/machines', { name: 'db-1', concurrency: 2, labels: { role: 'db' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('spreads 40 one-second tasks over 4 machines evenly', async () => {
    const created = await t.api('POST', '/tasks', {
      tasks: Array.from({ length: 40 }, () => ({ select: { role: 'web' }, command: 'sleep 1' })),
    });
    expect(created.status).toBe(201);
    // Placement happens when a slot frees: between a task's end and the next claim a machine may
    // briefly have fewer. While there is work for every slot and all of it is placed, none is more than
    // one above another. (Near the end the last tasks run where slots freed first: no evenness then.)
    let worstSpread = 0;
    let samples = 0;
    const done = await waitFor(
      async () => {
        const machines = (await t.api('GET', '/machines')).body as { name: string; running: number }[];
        const web = machines.filter((m) => m.name.startsWith('web-')).map((m) => m.running);
        expect(machines.find((m) => m.name === 'db-1')?.running).toBe(0);
        const batch = (await t.api('GET', `/batches/${created.body.batchId}`)).body;
        const running = web.reduce((a, b) => a + b, 0);
        if (40 - batch.done >= 8 && running === 8) {
          worstSpread = Math.max(worstSpread, Math.max(...web) - Math.min(...web));
          samples += 1;
        }
        return batch.done === 40 ? batch : undefined;
      },
      60_000,
      50,
    );
    expect(done.counts.completed).toBe(40);
    expect(samples).toBeGreaterThan(5);
    expect(worstSpread).toBeLessThanOrEqual(1);
    const tasks = (await t.api('GET', `/tasks?batch=${created.body.batchId}&limit=100`)).body as {
      machine: string;
    }[];
    const per = new Map<string, number>();
    for (const x of tasks) per.set(x.machine, (per.get(x.machine) ?? 0) + 1);
    expect([...per.keys()].sort()).toEqual(['web-1', 'web-2', 'web-3', 'web-4']);
    expect(Math.max(...per.values()) - Math.min(...per.values())).toBeLessThanOrEqual(2);
  });

  it('--all fans out to every match; no match is a clear error', async () => {
    const all = await t.api('POST', '/tasks', {
      select: { zone: 'b' },
      all: true,
      command: 'echo $REDIACC_TASK_ID',
    });
    expect(all.status).toBe(201);
    const tasks = (await t.api('GET', `/tasks?batch=${all.body.batchId}`)).body as { machine: string }[];
    expect(tasks.map((x) => x.machine).sort()).toEqual(['web-3', 'web-4']);
    const none = await t.api('POST', '/tasks', { select: { role: 'cache' }, command: 'true' });
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('NO_MATCHING_MACHINE');
    const both = await t.api('POST', '/tasks', {
      select: { role: 'web' },
      machine: 'web-1',
      command: 'true',
    });
    expect(both.status).toBe(400);
  });
});
