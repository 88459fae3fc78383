import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleActor } from '../../src/schedules/schedule-duty.js';
import type { RunningServer } from '../../src/server/start.js';
import { call, startClockedServer, TestClock } from '../helpers/schedules.js';
import { emptyDatabase } from '../helpers/store.js';

const MIN = 60_000;

// Two control-plane replicas on one PostgreSQL database, one clock the test
// moves. Both run the schedule duty (on their own timers, and the test ticks
// both at once besides); every due time must make exactly one task.
describe('schedules on two replicas', () => {
  const clock = new TestClock(Date.parse('2026-06-01T07:59:40Z'));
  const dirs: string[] = [];
  let replicas: [RunningServer, RunningServer];
  let db: { url: string; drop(): Promise<void> };

  const createdBy = async (r: RunningServer, name: string) =>
    (
      (await call(r, 'GET', '/tasks?limit=1000')).body as {
        createdBy: string;
        taskId: string;
        status: string;
      }[]
    )
      .filter((t) => t.createdBy === scheduleActor(name))
      .reverse();
  /** Every replica ticks twice, all at once. */
  const tickAll = () => Promise.all(replicas.flatMap((r) => [r.schedules.tick(), r.schedules.tick()]));

  beforeAll(async () => {
    db = await emptyDatabase();
    const start = async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rediacc-sched-pg-'));
      dirs.push(dir);
      return startClockedServer(clock, { dataDir: dir, databaseUrl: db.url });
    };
    replicas = (await Promise.all([start(), start()])) as [RunningServer, RunningServer];
  }, 60_000);
  afterAll(async () => {
    for (const r of replicas ?? []) await r.close();
    await db?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a schedule every minute makes exactly one task per minute', async () => {
    const [a, b] = replicas;
    const created = await call(a, 'POST', '/schedules', {
      name: 'every-minute',
      cron: '* * * * *',
      machine: 'local',
      command: 'echo tick',
      overlap: 'allow',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await call(b, 'GET', '/schedules/every-minute')).body.nextRunAt).toBe('2026-06-01T08:00:00.000Z');
    const first = Date.parse('2026-06-01T08:00:00Z');
    const minutes = 30;
    const seen = new Set<string>();
    for (let i = 0; i < minutes; i += 1) {
      // Somewhere in the first seconds of the minute, as a tick would see it.
      clock.ms = first + i * MIN + ((i * 397) % 3000);
      await tickAll();
      // The background timers of both replicas run too; give them a moment now and then.
      if (i % 5 === 0) await new Promise((r) => setTimeout(r, 1100));
      const tasks = await createdBy(i % 2 === 0 ? a : b, 'every-minute');
      expect(tasks, `minute ${i}`).toHaveLength(i + 1);
      for (const t of tasks) seen.add(t.taskId);
      const s = (await call(b, 'GET', '/schedules/every-minute')).body;
      expect(s).toMatchObject({
        lastOutcome: 'created',
        lastRunAt: new Date(first + i * MIN).toISOString(),
        nextRunAt: new Date(first + (i + 1) * MIN).toISOString(),
        runPending: false,
      });
      expect(s.lastTaskIds).toEqual([tasks.at(-1)?.taskId]);
    }
    expect(seen.size).toBe(minutes);
    await call(a, 'DELETE', '/schedules/every-minute');
  });

  it('overlap skip holds across replicas: one task while it waits', async () => {
    const [a, b] = replicas;
    clock.ms = Date.parse('2026-06-01T09:00:30Z');
    const res = await call(b, 'POST', '/schedules', {
      name: 'exclusive',
      cron: '* * * * *',
      machine: 'local',
      command: 'echo once',
    });
    expect(res.status).toBe(201);
    for (let i = 1; i <= 5; i += 1) {
      clock.ms = Date.parse('2026-06-01T09:00:00Z') + i * MIN + 200;
      await tickAll();
    }
    const tasks = await createdBy(a, 'exclusive');
    expect(tasks).toHaveLength(1);
    expect((await call(a, 'GET', '/schedules/exclusive')).body.lastOutcome).toBe('overlap-skipped');
    await call(a, 'POST', `/tasks/${tasks[0]?.taskId}/cancel`, {});
    clock.ms = Date.parse('2026-06-01T09:06:00.300Z');
    await tickAll();
    expect(await createdBy(b, 'exclusive')).toHaveLength(2);
  });

  it('catch-up after both replicas were down runs once, not once per replica', async () => {
    const [a, b] = replicas;
    clock.ms = Date.parse('2026-06-01T10:00:30Z');
    await call(a, 'POST', '/schedules', {
      name: 'caught',
      cron: '*/10 * * * *',
      machine: 'local',
      command: 'echo caught',
      catchUp: true,
      overlap: 'allow',
    });
    await call(a, 'POST', '/schedules', {
      name: 'skipped',
      cron: '*/10 * * * *',
      machine: 'local',
      command: 'echo skipped',
      overlap: 'allow',
    });
    clock.ms = Date.parse('2026-06-01T11:05:00Z');
    await tickAll();
    expect(await createdBy(b, 'caught')).toHaveLength(1);
    expect(await createdBy(b, 'skipped')).toHaveLength(0);
    expect((await call(b, 'GET', '/schedules/caught')).body).toMatchObject({
      lastOutcome: 'caught-up',
      lastRunAt: '2026-06-01T11:00:00.000Z',
      nextRunAt: '2026-06-01T11:10:00.000Z',
    });
    expect((await call(b, 'GET', '/schedules/skipped')).body).toMatchObject({
      lastOutcome: 'missed',
      nextRunAt: '2026-06-01T11:10:00.000Z',
    });
  });
});
