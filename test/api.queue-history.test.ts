import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueSampler } from '../src/history/queue-sampler.js';
import { MINUTE_MS } from '../src/history/queue-samples.js';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { emptyDatabase, STORES } from './helpers/store.js';
import { userWithRoles } from './helpers/teams.js';

// GET /queue/history from samples the server writes, and "slower than usual"
// for running tasks, against a real server whose embedded bridge runs the tasks.

interface Task {
  taskId: string;
  status: string;
  createdAt: string;
  startedAt: string | null;
}

/** The same command every time; $NAP says how long it runs. */
const NAP_COMMAND = 'sleep "$NAP"';

describe.each(STORES)('%s: queue history and usual run times over HTTP', (kind) => {
  let t: TestServer;
  let drop: (() => Promise<void>) | undefined;
  let viewer: string;
  const done: Task[] = [];

  const run = async (machine: string, nap: string, team?: string): Promise<Task> => {
    const c = await t.api('POST', '/tasks', { machine, command: NAP_COMMAND, env: { NAP: nap } });
    expect(c.status, JSON.stringify(c.body)).toBe(201);
    return waitFor(async () => {
      const got = (await t.api('GET', `/tasks/${c.body.taskId}`)).body as Task;
      return got.status === 'completed' ? got : undefined;
    }, 30_000).then((task) => {
      if (team === undefined) done.push(task);
      return task;
    });
  };

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (kind === 'postgres') {
      const db = await emptyDatabase();
      databaseUrl = db.url;
      drop = db.drop;
    }
    t = await startTestServer(databaseUrl === undefined ? {} : { databaseUrl });
    await t.api('POST', '/teams', { name: 'alpha' });
    await t.api('POST', '/machines', { name: 'alpha-m1', team: 'alpha', concurrency: 1 });
    viewer = await userWithRoles(t, 'viewer@example.com', { alpha: 'viewer' });
    for (let i = 0; i < 3; i += 1) await run('local', '0');
    await run('alpha-m1', '0', 'alpha');
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it('answers the minutes the server sampled: counts, and the waits of the tasks that started', async () => {
    const sampler = new QueueSampler({
      store: t.server.store,
      logger: pino({ level: 'silent' }),
      clock: Date.now,
    });
    const started = done.map((d) => Date.parse(d.startedAt as string));
    const first = Math.floor(Math.min(...started) / MINUTE_MS) * MINUTE_MS;
    const last = Math.floor(Math.max(...started) / MINUTE_MS) * MINUTE_MS;
    // What the duty does a few seconds after each minute ends; a second replica's tick writes nothing.
    for (let m = first; m <= last; m += MINUTE_MS) {
      expect(await sampler.tick(m + MINUTE_MS + 5_000)).toBe(true);
      expect(await sampler.tick(m + MINUTE_MS + 6_000)).toBe(false);
    }

    const res = await t.api('GET', '/queue/history?hours=1');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ hours: 1, stepMinutes: 1, teams: null });
    const points = res.body.points as {
      at: string;
      started: number;
      waitMaxMs: number | null;
      waitP50Ms: number | null;
      pendingTotal: number;
      pending: Record<string, number>;
      waitExact: boolean;
    }[];
    expect(points.length).toBe(res.body.sampledMinutes);
    // Every started task of team default and alpha counted once (alpha's too: the admin sees all teams).
    expect(points.reduce((a, p) => a + p.started, 0)).toBe(done.length + 1);
    // The longest wait of a minute is a real task's: started minus queued (= created).
    const waits = done.map((d) => Date.parse(d.startedAt as string) - Date.parse(d.createdAt));
    const longest = Math.max(...points.map((p) => p.waitMaxMs ?? 0));
    expect(longest).toBeGreaterThanOrEqual(Math.max(...waits) - 2);
    // The minutes sampled here (after the tasks ended) have nothing waiting; the server's own duty may
    // have sampled a minute boundary that fell while the tasks above were still queued.
    const ours = points.filter((p) => Date.parse(p.at) >= first && Date.parse(p.at) <= last);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((p) => p.pendingTotal === 0 && p.waitExact)).toBe(true);
    expect(Object.keys(points[0]?.pending ?? {})).toEqual(['1', '2', '3', '4', '5']);

    // A member of alpha sees alpha's figures only: its one start.
    const mine = await t.api('GET', '/queue/history?hours=1', undefined, viewer);
    expect(mine.status).toBe(200);
    expect(mine.body.teams).toEqual(['alpha']);
    expect(mine.body.points.reduce((a: number, p: { started: number }) => a + p.started, 0)).toBe(1);
    expect(mine.body.sampledMinutes).toBe(res.body.sampledMinutes);
    // The admin narrows to one team; nobody learns of a team they are not in.
    const alpha = await t.api('GET', '/queue/history?hours=1&team=alpha');
    expect(alpha.body.points.reduce((a: number, p: { started: number }) => a + p.started, 0)).toBe(1);
    for (const [path, token] of [
      ['/queue/history?team=default', viewer],
      ['/queue/history?team=nope', undefined],
    ] as const) {
      const r = await t.api('GET', path, undefined, token);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('TEAM_NOT_FOUND');
    }
  });

  it('refuses bad input with VALIDATION_FAILED', async () => {
    for (const q of ['hours=0', 'hours=169', 'hours=abc', 'hours=1&step=0', 'step=61', 'team=a%20b', 'x=1']) {
      const r = await t.api('GET', `/queue/history?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code, q).toBe('VALIDATION_FAILED');
    }
    // A week answers points of 7 minutes (at most a day's worth of points).
    const week = await t.api('GET', '/queue/history?hours=168');
    expect(week.body.stepMinutes).toBe(7);
    for (const q of [
      'ids=',
      'ids=nope',
      `ids=${Array(101).fill('01a2251e-543a-7e52-8b41-a2694be68467').join(',')}`,
    ]) {
      const r = await t.api('GET', `/tasks/usual?${q}`);
      expect(r.status, q).toBe(400);
    }
  });

  it('says a running task is slower than usual against earlier runs of its command on its machine', async () => {
    const c = await t.api('POST', '/tasks', { machine: 'local', command: NAP_COMMAND, env: { NAP: '60' } });
    const id = c.body.taskId as string;
    try {
      const early = await waitFor(async () => {
        const u = (await t.api('GET', `/tasks/${id}/usual`)).body;
        return u.status === 'running' ? u : undefined;
      });
      expect(early).toMatchObject({
        taskId: id,
        machine: 'local',
        runs: 3,
        slower: false,
        verdict: 'AS_USUAL',
      });
      expect(early.usualMs).toBeLessThan(5_000);
      // The usual run is short: 5 s later (the margin) the run is slower than usual.
      const slow = await waitFor(async () => {
        const u = (await t.api('GET', `/tasks/${id}/usual`)).body;
        return u.slower === true ? u : undefined;
      }, 15_000);
      expect(slow).toMatchObject({ verdict: 'SLOWER', runs: 3 });
      expect(slow.elapsedMs).toBeGreaterThanOrEqual(5_000);
      expect(slow.text).toMatch(/^running \d+(\.\d)?× longer than usual \(usual \d+ (ms|s) over 3 runs\)$/);

      // The list form: the admin gets both, the member of alpha neither (not even a 404 to learn from).
      const both = await t.api('GET', `/tasks/usual?ids=${id},${done[0]?.taskId}`);
      expect(both.body.tasks.map((u: { taskId: string; verdict: string }) => [u.taskId, u.verdict])).toEqual([
        [id, 'SLOWER'],
        [done[0]?.taskId, 'NOT_RUNNING'],
      ]);
      expect((await t.api('GET', `/tasks/usual?ids=${id}`, undefined, viewer)).body).toEqual({ tasks: [] });
      const hidden = await t.api('GET', `/tasks/${id}/usual`, undefined, viewer);
      expect(hidden.status).toBe(404);
      expect(hidden.body.error.code).toBe('TASK_NOT_FOUND');
    } finally {
      await t.api('POST', `/tasks/${id}/cancel`, {});
    }
  }, 30_000);
});
