import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKey, scheduleActor } from '../src/schedules/schedule-duty.js';
import type { RunningServer } from '../src/server/start.js';
import { expectErrorBody } from './helpers/api.js';
import { call, startClockedServer, TestClock } from './helpers/schedules.js';
import { ADMIN_TOKEN, type TestServer } from './helpers/server.js';
import { userWithRoles } from './helpers/teams.js';

const MIN = 60_000;
const START = '2026-05-04T09:58:30.000Z';

// A real server on a SQLite file without a bridge (tasks stay pending), whose
// clock the test moves; the schedule duty is driven with tick().
describe('schedules over the API', () => {
  const clock = new TestClock(Date.parse(START));
  let server: RunningServer;
  const dataDir = mkdtempSync(join(tmpdir(), 'rediacc-sched-api-'));
  const api = (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) =>
    call(server, method, path, body, token);
  /** Tasks a schedule created, oldest first. */
  const tasksOf = async (name: string) =>
    ((await api('GET', '/tasks?limit=1000')).body as { createdBy: string; taskId: string; status: string }[])
      .filter((t) => t.createdBy === scheduleActor(name))
      .reverse();
  const tickAt = async (iso: string) => {
    clock.set(iso);
    await server.schedules.tick();
  };
  const create = async (body: Record<string, unknown>) => {
    const res = await api('POST', '/schedules', { machine: 'local', command: 'echo hi', ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };

  beforeAll(async () => {
    server = await startClockedServer(clock, { dataDir });
    // Only the test's own ticks: the orphan case claims a due time by hand and must not race the timer.
    await server.schedules.stop();
  });
  afterAll(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a schedule and shows its next run times', async () => {
    const s = await create({
      name: 'report',
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      priority: 'high',
      retryCount: 2,
      retryDelay: 30,
      failureAction: 'alert',
      timeout: 600,
      env: { MODE: 'full' },
    });
    expect(s).toMatchObject({
      name: 'report',
      team: 'default',
      cron: '0 3 * * *',
      timezone: 'Europe/Berlin',
      overlap: 'skip',
      catchUp: false,
      paused: false,
      task: {
        machine: 'local',
        command: 'echo hi',
        priority: 2,
        retryCount: 2,
        retryDelay: 30,
        backoff: 'fixed',
        failureAction: 'alert',
        timeout: 600,
        env: ['MODE'],
        secretEnv: {},
      },
      // 03:00 in Berlin (CEST) is 01:00 UTC.
      nextRunAt: '2026-05-05T01:00:00.000Z',
      runPending: false,
      lastRunAt: null,
      lastOutcome: null,
      createdBy: 'admin@localhost',
    });
    expect(s.nextRuns).toEqual([
      '2026-05-05T01:00:00.000Z',
      '2026-05-06T01:00:00.000Z',
      '2026-05-07T01:00:00.000Z',
      '2026-05-08T01:00:00.000Z',
      '2026-05-09T01:00:00.000Z',
    ]);
    expect(JSON.stringify(s)).not.toContain('full');
    const got = await api('GET', '/schedules/report?next=2');
    expect(got.body.nextRuns).toEqual(['2026-05-05T01:00:00.000Z', '2026-05-06T01:00:00.000Z']);
    expectErrorBody(await api('GET', '/schedules/report?next=0'), 400, 'VALIDATION_FAILED', 'next');
    expectErrorBody(await api('GET', '/schedules/report?next=101'), 400, 'VALIDATION_FAILED', 'next');
    const list = await api('GET', '/schedules');
    expect(list.body.map((x: { name: string }) => x.name)).toContain('report');
    expectErrorBody(await api('GET', '/schedules/nope'), 404, 'SCHEDULE_NOT_FOUND');
    await api('DELETE', '/schedules/report');
  });

  it('bad input: a clear error, and nothing is created', async () => {
    await api('POST', '/machines', { name: 'other-team-machine', team: 'default' });
    await api('POST', '/teams', { name: 'second' });
    await api('POST', '/machines', { name: 'second-m', team: 'second' });
    const before = (await api('GET', '/schedules')).body.length;
    const base = { name: 'bad', cron: '* * * * *', machine: 'local', command: 'true' };
    const cases: [Record<string, unknown>, number, string, string?][] = [
      [{ cron: 'every minute' }, 400, 'INVALID_CRON', 'cron'],
      [{ cron: '* * * * * *' }, 400, 'INVALID_CRON', 'cron'],
      [{ cron: '60 * * * *' }, 400, 'INVALID_CRON', 'cron'],
      [{ cron: '0 0 31 2 *' }, 400, 'INVALID_CRON', 'cron'],
      [{ cron: '' }, 400, 'VALIDATION_FAILED', 'cron'],
      [{ timezone: 'Mars/Base' }, 400, 'INVALID_TIMEZONE', 'timezone'],
      [{ timezone: 'Europe/Berlin ' }, 400, 'INVALID_TIMEZONE', 'timezone'],
      [{ machine: 'no-such-machine' }, 404, 'MACHINE_NOT_FOUND', 'machine'],
      [{ machine: undefined, machines: ['local', 'second-m'] }, 400, 'VALIDATION_FAILED', 'machines'],
      [{ machine: undefined, select: { role: 'none' } }, 404, 'NO_MATCHING_MACHINE', 'select'],
      [{ select: { a: 'b' } }, 400, 'VALIDATION_FAILED', 'machine'],
      [{ machine: undefined }, 400, 'VALIDATION_FAILED', 'machine'],
      [{ command: undefined }, 400, 'VALIDATION_FAILED', 'command'],
      [{ command: '   ' }, 400, 'VALIDATION_FAILED', 'command'],
      [{ command: 'mysql --password=hunter2' }, 400, 'INLINE_SECRET', 'command'],
      [{ env: { DB_PASSWORD: 'x' } }, 400, 'INLINE_SECRET', 'env.DB_PASSWORD'],
      [{ env: { DB: 'vault:no/such/key' } }, 404, 'VAULT_KEY_NOT_FOUND', 'env.DB'],
      [{ priority: 9 }, 400, 'VALIDATION_FAILED'],
      [{ retryCount: -1 }, 400, 'VALIDATION_FAILED', 'retryCount'],
      [{ overlap: 'queue' }, 400, 'VALIDATION_FAILED', 'overlap'],
      [{ catchUp: 'yes' }, 400, 'VALIDATION_FAILED', 'catchUp'],
      [{ name: 'bad name!' }, 400, 'VALIDATION_FAILED', 'name'],
      [{ name: undefined }, 400, 'VALIDATION_FAILED', 'name'],
      [{ surprise: 1 }, 400, 'VALIDATION_FAILED', 'surprise'],
      [{ team: 'second' }, 404, 'MACHINE_NOT_FOUND', 'machine'],
    ];
    for (const [patch, status, code, field] of cases) {
      const body: Record<string, unknown> = { ...base, ...patch };
      for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
      const res = await api('POST', '/schedules', body);
      expectErrorBody(res, status, code, field);
    }
    const dup = await create({ name: 'dup', cron: '* * * * *' });
    expectErrorBody(await api('POST', '/schedules', { ...base, name: 'dup' }), 409, 'SCHEDULE_EXISTS');
    expectErrorBody(await api('PATCH', '/schedules/dup', { paused: 'yes' }), 400, 'VALIDATION_FAILED');
    expectErrorBody(await api('PATCH', '/schedules/dup', {}), 400, 'VALIDATION_FAILED', 'paused');
    expectErrorBody(await api('PATCH', '/schedules/nope', { paused: true }), 404, 'SCHEDULE_NOT_FOUND');
    expectErrorBody(await api('DELETE', '/schedules/nope'), 404, 'SCHEDULE_NOT_FOUND');
    expect((await api('GET', '/schedules')).body.length).toBe(before + 1);
    await api('DELETE', `/schedules/${dup.name}`);
    expect((await api('GET', '/schedules')).body.length).toBe(before);
  });

  it('fires one task per due time, marked with the schedule, and records it', async () => {
    clock.set('2026-05-04T10:00:30Z');
    await create({ name: 'every-minute', cron: '* * * * *', overlap: 'allow' });
    expect((await api('GET', '/schedules/every-minute')).body.nextRunAt).toBe('2026-05-04T10:01:00.000Z');
    await tickAt('2026-05-04T10:00:59.999Z');
    expect(await tasksOf('every-minute')).toHaveLength(0);
    await tickAt('2026-05-04T10:01:00.300Z');
    await server.schedules.tick();
    const first = await tasksOf('every-minute');
    expect(first).toHaveLength(1);
    const s = (await api('GET', '/schedules/every-minute')).body;
    expect(s).toMatchObject({
      lastRunAt: '2026-05-04T10:01:00.000Z',
      lastDueAt: '2026-05-04T10:01:00.000Z',
      lastTaskIds: [first[0]?.taskId],
      lastBatchId: null,
      lastOutcome: 'created',
      nextRunAt: '2026-05-04T10:02:00.000Z',
      runPending: false,
    });
    const task = (await api('GET', `/tasks/${first[0]?.taskId}`)).body;
    expect(task).toMatchObject({ machine: 'local', command: 'echo hi', createdBy: 'schedule:every-minute' });
    for (const minute of ['02', '03', '04']) {
      await tickAt(`2026-05-04T10:${minute}:01Z`);
      await server.schedules.tick();
    }
    expect(await tasksOf('every-minute')).toHaveLength(4);
    await api('DELETE', '/schedules/every-minute');
    await tickAt('2026-05-04T10:05:01Z');
    expect(await tasksOf('every-minute')).toHaveLength(4);
  });

  it('a fan-out schedule makes one batch per run', async () => {
    clock.set('2026-05-04T10:05:30Z');
    await api('POST', '/machines', { name: 'fan-a' });
    await api('POST', '/machines', { name: 'fan-b' });
    await create({ name: 'fan', cron: '* * * * *', machine: undefined, machines: ['fan-a', 'fan-b'] });
    await tickAt('2026-05-04T10:06:00.5Z');
    const s = (await api('GET', '/schedules/fan')).body;
    expect(s.lastOutcome).toBe('created');
    expect(s.lastBatchId).toEqual(expect.any(String));
    expect(s.lastTaskIds).toHaveLength(2);
    const batch = (await api('GET', `/tasks?batch=${s.lastBatchId}`)).body as { machine: string }[];
    expect(batch.map((t) => t.machine).sort()).toEqual(['fan-a', 'fan-b']);
    await api('DELETE', '/schedules/fan');
  });

  it('overlap skip: no new run while the last one waits; the next one after it ended runs', async () => {
    clock.set('2026-05-04T10:10:30Z');
    await create({ name: 'no-overlap', cron: '* * * * *' });
    await tickAt('2026-05-04T10:11:00.2Z');
    const [first] = await tasksOf('no-overlap');
    expect(first?.status).toBe('pending');
    await tickAt('2026-05-04T10:12:00.2Z');
    expect(await tasksOf('no-overlap')).toHaveLength(1);
    let s = (await api('GET', '/schedules/no-overlap')).body;
    expect(s).toMatchObject({
      lastOutcome: 'overlap-skipped',
      lastDueAt: '2026-05-04T10:12:00.000Z',
      lastRunAt: '2026-05-04T10:11:00.000Z',
      lastTaskIds: [first?.taskId],
      nextRunAt: '2026-05-04T10:13:00.000Z',
    });
    expect(s.lastDetail).toContain('still waiting or running');
    expect((await api('POST', `/tasks/${first?.taskId}/cancel`, {})).status).toBe(200);
    await tickAt('2026-05-04T10:13:00.2Z');
    const tasks = await tasksOf('no-overlap');
    expect(tasks).toHaveLength(2);
    s = (await api('GET', '/schedules/no-overlap')).body;
    expect(s).toMatchObject({ lastOutcome: 'created', lastTaskIds: [tasks[1]?.taskId] });
    await api('DELETE', '/schedules/no-overlap');
  });

  it('pause and resume: paused times never run; resuming starts from the next time after now', async () => {
    clock.set('2026-05-04T10:20:30Z');
    await create({ name: 'pausable', cron: '*/5 * * * *', overlap: 'allow', catchUp: true });
    const paused = await api('PATCH', '/schedules/pausable', { paused: true });
    expect(paused.body).toMatchObject({ paused: true, nextRunAt: null, nextRuns: [] });
    await tickAt('2026-05-04T10:25:00.5Z');
    await tickAt('2026-05-04T10:31:00Z');
    expect(await tasksOf('pausable')).toHaveLength(0);
    const again = await api('PATCH', '/schedules/pausable', { paused: true });
    expect(again.body.paused).toBe(true);
    const resumed = await api('PATCH', '/schedules/pausable', { paused: false });
    expect(resumed.body).toMatchObject({ paused: false, nextRunAt: '2026-05-04T10:35:00.000Z' });
    await tickAt('2026-05-04T10:32:00Z');
    expect(await tasksOf('pausable')).toHaveLength(0);
    await tickAt('2026-05-04T10:35:00.5Z');
    expect(await tasksOf('pausable')).toHaveLength(1);
    await api('DELETE', '/schedules/pausable');
    const born = await create({ name: 'born-paused', cron: '0 * * * *', paused: true });
    expect(born).toMatchObject({ paused: true, nextRunAt: null, nextRuns: [] });
    await tickAt('2026-05-04T11:00:00.5Z');
    expect(await tasksOf('born-paused')).toHaveLength(0);
    const live = await api('PATCH', '/schedules/born-paused', { paused: false });
    expect(live.body).toMatchObject({ paused: false, nextRunAt: '2026-05-04T12:00:00.000Z' });
    await api('DELETE', '/schedules/born-paused');
    clock.set('2026-05-04T10:40:00Z');
  });

  it('a run whose template no longer fits fails that due time only', async () => {
    clock.set('2026-05-04T10:40:30Z');
    await api('POST', '/machines', { name: 'doomed' });
    await create({ name: 'fragile', cron: '* * * * *', machine: 'doomed', overlap: 'allow' });
    expect((await api('DELETE', '/machines/doomed')).status).toBe(204);
    await tickAt('2026-05-04T10:41:00.5Z');
    const s = (await api('GET', '/schedules/fragile')).body;
    expect(s).toMatchObject({
      lastOutcome: 'failed',
      lastRunAt: null,
      lastDueAt: '2026-05-04T10:41:00.000Z',
      nextRunAt: '2026-05-04T10:42:00.000Z',
      runPending: false,
    });
    expect(s.lastDetail).toContain('MACHINE_NOT_FOUND');
    expect(await tasksOf('fragile')).toHaveLength(0);
    await api('POST', '/machines', { name: 'doomed' });
    await tickAt('2026-05-04T10:42:00.5Z');
    expect(await tasksOf('fragile')).toHaveLength(1);
    await api('DELETE', '/schedules/fragile');
  });

  it('a run claimed by a replica that stopped before recording it is finished once by another', async () => {
    clock.set('2026-05-04T10:50:30Z');
    const s = await create({ name: 'orphan', cron: '* * * * *', overlap: 'allow' });
    const dueAt = Date.parse('2026-05-04T10:51:00Z');
    // What a replica does before it dies: claim, create the tasks, but never record the run.
    clock.set('2026-05-04T10:51:00.1Z');
    const store = server.store;
    expect(
      await store.schedules.claim(
        {
          scheduleId: s.scheduleId,
          expectedNextRunAt: dueAt,
          nextRunAt: dueAt + MIN,
          fireDueAt: dueAt,
          skipped: null,
        },
        clock.ms,
      ),
    ).toBe(true);
    await server.service.create(
      [{ machine: 'local', command: 'echo hi' }],
      scheduleActor('orphan'),
      false,
      () => {},
      {
        idempotencyKey: runKey(s.scheduleId, dueAt),
      },
    );
    await tickAt('2026-05-04T10:51:30Z');
    expect((await api('GET', '/schedules/orphan')).body.runPending).toBe(true);
    // Past the stale limit (1 min): another tick takes the run over; the key makes it the same task.
    await tickAt('2026-05-04T10:52:10Z');
    const after = (await api('GET', '/schedules/orphan')).body;
    const tasks = await tasksOf('orphan');
    expect(after.runPending).toBe(false);
    expect(after.lastDueAt).toBe('2026-05-04T10:51:00.000Z');
    // The 10:52 run is pending behind the taken-over one and runs on the next tick.
    await server.schedules.tick();
    const all = await tasksOf('orphan');
    expect(tasks.length).toBe(1);
    expect(all).toHaveLength(2);
    expect((await api('GET', '/schedules/orphan')).body.lastDueAt).toBe('2026-05-04T10:52:00.000Z');
    await api('DELETE', '/schedules/orphan');
  });

  it('roles: viewers read, operators write, other teams see nothing', async () => {
    clock.set('2026-05-04T11:00:30Z');
    await api('POST', '/teams', { name: 'gamma' });
    await api('POST', '/teams', { name: 'delta' });
    await api('POST', '/machines', { name: 'gamma-m', team: 'gamma' });
    await api('POST', '/machines', { name: 'delta-m', team: 'delta' });
    const t = { url: server.url } as unknown as TestServer;
    (t as { api: TestServer['api'] }).api = (method, path, body, token = ADMIN_TOKEN) =>
      call(server, method, path, body, token);
    const viewer = await userWithRoles(t, 'sched-viewer@example.com', { gamma: 'viewer' });
    const operator = await userWithRoles(t, 'sched-op@example.com', { gamma: 'operator' });
    const body = { name: 'g-sched', cron: '0 * * * *', machine: 'gamma-m', command: 'true' };
    expectErrorBody(await api('POST', '/schedules', body, viewer), 403, 'FORBIDDEN');
    const made = await api('POST', '/schedules', body, operator);
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ team: 'gamma', createdBy: 'sched-op@example.com' });
    expectErrorBody(
      await api('POST', '/schedules', { ...body, name: 'd-sched', machine: 'delta-m' }, operator),
      404,
      'MACHINE_NOT_FOUND',
    );
    await create({ name: 'd-sched', cron: '0 * * * *', machine: 'delta-m' });
    expect((await api('GET', '/schedules/g-sched', undefined, viewer)).status).toBe(200);
    expectErrorBody(await api('GET', '/schedules/d-sched', undefined, viewer), 404, 'SCHEDULE_NOT_FOUND');
    expectErrorBody(
      await api('PATCH', '/schedules/d-sched', { paused: true }, operator),
      404,
      'SCHEDULE_NOT_FOUND',
    );
    expectErrorBody(
      await api('DELETE', '/schedules/d-sched', undefined, operator),
      404,
      'SCHEDULE_NOT_FOUND',
    );
    expectErrorBody(await api('PATCH', '/schedules/g-sched', { paused: true }, viewer), 403, 'FORBIDDEN');
    expectErrorBody(await api('DELETE', '/schedules/g-sched', undefined, viewer), 403, 'FORBIDDEN');
    const seen = (await api('GET', '/schedules', undefined, viewer)).body.map(
      (x: { name: string }) => x.name,
    );
    expect(seen).toEqual(['g-sched']);
    expect((await api('PATCH', '/schedules/g-sched', { paused: true }, operator)).body.paused).toBe(true);
    expect((await api('DELETE', '/schedules/g-sched', undefined, operator)).status).toBe(204);
    // Every change is in the audit log.
    const audit = (await api('GET', '/audit?limit=5000')).body as { action: string; target: string }[];
    const actions = audit.filter((a) => a.target === 'schedule:g-sched').map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining(['schedules.create', 'schedules.update', 'schedules.delete']),
    );
  });
});

describe('schedules after downtime', () => {
  it('a restart after missed due times: catch-up runs once, the default skips to the next time', async () => {
    const clock = new TestClock(Date.parse('2026-05-04T12:00:30Z'));
    const dir = mkdtempSync(join(tmpdir(), 'rediacc-sched-down-'));
    let server = await startClockedServer(clock, { dataDir: dir });
    try {
      const names = ['hourly-skip', 'hourly-catch-up', 'minutely-skip', 'minutely-catch-up'];
      for (const name of names) {
        const res = await call(server, 'POST', '/schedules', {
          name,
          cron: name.startsWith('hourly') ? '0 * * * *' : '* * * * *',
          catchUp: name.endsWith('catch-up'),
          machine: 'local',
          command: 'true',
          overlap: 'allow',
        });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      }
      await server.close();
      // Down from 12:00:30 until 14:20:10: two hourly and 139 minutely due times pass.
      clock.set('2026-05-04T14:20:10Z');
      server = await startClockedServer(clock, { dataDir: dir });
      await server.schedules.tick();
      const get = async (name: string) => (await call(server, 'GET', `/schedules/${name}`)).body;
      const count = async (name: string) =>
        ((await call(server, 'GET', '/tasks?limit=1000')).body as { createdBy: string }[]).filter(
          (t) => t.createdBy === scheduleActor(name),
        ).length;
      expect(await get('hourly-skip')).toMatchObject({
        lastOutcome: 'missed',
        lastRunAt: null,
        lastDueAt: '2026-05-04T14:00:00.000Z',
        nextRunAt: '2026-05-04T15:00:00.000Z',
      });
      expect((await get('hourly-skip')).lastDetail).toContain('2 run(s) due since 2026-05-04T13:00:00.000Z');
      expect(await get('hourly-catch-up')).toMatchObject({
        lastOutcome: 'caught-up',
        lastRunAt: '2026-05-04T14:00:00.000Z',
        nextRunAt: '2026-05-04T15:00:00.000Z',
      });
      expect(await get('minutely-skip')).toMatchObject({
        lastOutcome: 'missed',
        nextRunAt: '2026-05-04T14:21:00.000Z',
      });
      expect(await get('minutely-catch-up')).toMatchObject({
        lastOutcome: 'caught-up',
        lastRunAt: '2026-05-04T14:20:00.000Z',
        nextRunAt: '2026-05-04T14:21:00.000Z',
      });
      expect(await count('hourly-skip')).toBe(0);
      expect(await count('hourly-catch-up')).toBe(1);
      expect(await count('minutely-skip')).toBe(0);
      expect(await count('minutely-catch-up')).toBe(1);
      // Back to normal: the next due time runs for both kinds.
      clock.set('2026-05-04T14:21:00.4Z');
      await server.schedules.tick();
      expect(await count('minutely-skip')).toBe(1);
      expect(await count('minutely-catch-up')).toBe(2);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
