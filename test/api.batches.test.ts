import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { emptyDatabase } from './helpers/store.js';
import { userWithRoles } from './helpers/teams.js';

// Batches, failures by error text, re-running the failed machines, output
// search and a machine's history: a real server with its embedded bridge,
// on SQLite and on PostgreSQL.

const MACHINES = 10;
/** Odd machines cannot reach their database; machine 4 has a full disk; the rest succeed. */
const commandOf = (i: number) =>
  i % 2 === 1
    ? `echo "starting"; echo "bm-${i}: cannot reach 10.0.0.${i}:5432 after ${100 + i} ms" >&2; exit 3`
    : i === 4
      ? 'echo "E: disk full" >&2; exit 4'
      : `echo "bm-${i} fine MODE=$MODE"`;

describe.each(['sqlite', 'postgres'] as const)('%s: batches and output search', (kind) => {
  let t: TestServer;
  let drop: (() => Promise<void>) | undefined;
  const tokens: Record<string, string> = {};
  let batchId: string;
  let taskIds: string[];

  const as = (who: string) => (method: string, path: string, body?: unknown) =>
    t.api(method, path, body, tokens[who]);
  const waitBatch = (id: string) =>
    waitFor(async () => {
      const b = (await t.api('GET', `/batches/${id}`)).body as { total: number; done: number };
      return b.total > 0 && b.done === b.total ? b : undefined;
    }, 60_000);

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (kind === 'postgres') {
      const db = await emptyDatabase();
      databaseUrl = db.url;
      drop = db.drop;
    }
    t = await startTestServer(databaseUrl === undefined ? {} : { databaseUrl });
    await t.api('POST', '/teams', { name: 'other' });
    tokens.op = await userWithRoles(t, 'op@example.com', { default: 'operator' });
    tokens.viewer = await userWithRoles(t, 'viewer@example.com', { default: 'viewer' });
    tokens.outsider = await userWithRoles(t, 'out@example.com', { other: 'operator' });
    for (let i = 0; i < MACHINES; i += 1) {
      const r = await t.api('POST', '/machines', { name: `bm-${i}`, concurrency: 2 });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    await t.api('POST', '/machines', { name: 'om-1', team: 'other' });
    const created = await as('op')('POST', '/tasks', {
      tasks: Array.from({ length: MACHINES }, (_, i) => ({
        machine: `bm-${i}`,
        command: commandOf(i),
        env: { MODE: 'blue' },
        retryCount: 0,
        priority: 2,
      })),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    batchId = created.body.batchId;
    taskIds = created.body.taskIds;
    await waitBatch(batchId);
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it('lists the batch with its counts, and its tasks as compact rows', async () => {
    const list = await as('op')('GET', '/batches');
    expect(list.status).toBe(200);
    expect(list.body[0]).toMatchObject({
      batchId,
      total: MACHINES,
      counts: { completed: 4, failed: 6 },
      createdBy: 'op@example.com',
      teams: ['default'],
    });
    expect(list.body[0].commands).toBeGreaterThan(1);
    expect((await as('outsider')('GET', '/batches')).body).toEqual([]);

    const grid = await as('viewer')('GET', `/batches/${batchId}/tasks`);
    expect(grid.status).toBe(200);
    expect(grid.body).toMatchObject({ batchId, total: MACHINES, counts: { completed: 4, failed: 6 } });
    expect(grid.body.tasks.map((x: { machine: string }) => x.machine)).toEqual(
      Array.from({ length: MACHINES }, (_, i) => `bm-${i}`),
    );
    expect(grid.body.tasks[1]).toMatchObject({
      taskId: taskIds[1],
      status: 'failed',
      exitCode: 3,
      attempts: 1,
    });
    expect(typeof grid.body.tasks[1].finishedAt).toBe('string');
    expect(Object.keys(grid.body.tasks[0]).sort()).not.toContain('command');

    const hidden = await as('outsider')('GET', `/batches/${batchId}/tasks`);
    expect([hidden.status, hidden.body.error.code]).toEqual([404, 'BATCH_NOT_FOUND']);
    expect((await t.api('GET', '/batches/0192f3a4-1b2c-7d8e-9f00-aabbccddeeff/tasks')).status).toBe(404);
    expect((await t.api('GET', '/batches/not-a-uuid/tasks')).status).toBe(400);
    expect((await t.api('GET', '/batches?limit=0')).status).toBe(400);
  });

  it('groups the failures by their error text across machines', async () => {
    const res = await as('viewer')('GET', `/batches/${batchId}/failures`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ failed: 6, grouped: 6, sampled: false });
    expect(res.body.groups.map((g: { pattern: string; count: number }) => [g.pattern, g.count])).toEqual([
      ['<machine>: cannot reach <ip> after <n> ms', 5],
      ['E: disk full', 1],
    ]);
    expect(res.body.groups[0]).toMatchObject({ reasons: ['EXIT_NONZERO'], exitCodes: [3] });
    expect(res.body.groups[0].example).toMatch(/^bm-1: cannot reach 10\.0\.0\.1:5432 after 101 ms$/);
    expect(res.body.groups[0].tasks.map((x: { machine: string }) => x.machine)).toEqual([
      'bm-1',
      'bm-3',
      'bm-5',
      'bm-7',
      'bm-9',
    ]);
    expect((await as('outsider')('GET', `/batches/${batchId}/failures`)).status).toBe(404);
  });

  it('finds text across the output of many tasks, only in the caller’s teams, bounded and paged', async () => {
    const res = await as('viewer')('GET', `/output/search?q=${encodeURIComponent('CANNOT reach 10.0.0.')}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.tasks.map((x: { machine: string }) => x.machine).sort()).toEqual([
      'bm-1',
      'bm-3',
      'bm-5',
      'bm-7',
      'bm-9',
    ]);
    expect(res.body.tasks[0].lines[0]).toMatchObject({ stream: 'stderr', attempt: 1 });
    expect(res.body.tasks[0].lines[0].text).toMatch(/^bm-\d: cannot reach 10\.0\.0\.\d:5432/);
    expect(res.body.tasks[0].lines[0].column).toBe(6);
    expect(res.body).toMatchObject({
      truncated: false,
      nextBefore: null,
      limits: { tasks: 200, matches: 200 },
    });
    expect(res.body.scannedTasks).toBeGreaterThanOrEqual(MACHINES);

    expect((await as('outsider')('GET', '/output/search?q=cannot')).body.tasks).toEqual([]);
    const few = await t.api('GET', '/output/search?q=cannot&tasks=3');
    expect(few.body.scannedTasks).toBe(3);
    expect(typeof few.body.nextBefore).toBe('number');
    const older = await t.api('GET', `/output/search?q=cannot&tasks=100&before=${few.body.nextBefore}`);
    const seen = [...few.body.tasks, ...older.body.tasks].map((x: { machine: string }) => x.machine).sort();
    expect(seen).toEqual(['bm-1', 'bm-3', 'bm-5', 'bm-7', 'bm-9']);
    expect((await t.api('GET', `/output/search?q=fine&machine=bm-2`)).body.tasks).toHaveLength(1);
    expect((await t.api('GET', `/output/search?q=fine&batch=${batchId}&status=failed`)).body.tasks).toEqual(
      [],
    );
    for (const bad of [
      'q=a',
      'q=',
      'q=ok&tasks=0',
      'q=ok&tasks=1001',
      'q=ok&limit=x',
      'q=ok&status=nope',
      'nothing=1',
    ]) {
      const r = await t.api('GET', `/output/search?${bad}`);
      expect(r.status, bad).toBe(400);
    }
  });

  it('matches NUL and escapes in output literally on both stores', async () => {
    const created = await t.api('POST', '/tasks', {
      machine: 'bm-0',
      command: "printf 'nul\\000byte \\200 here and back\\\\slash\\n'",
    });
    expect(created.status).toBe(201);
    await waitFor(async () =>
      (await t.api('GET', `/tasks/${created.body.taskId}`)).body.status === 'completed' ? true : undefined,
    );
    const hit = await t.api('GET', `/output/search?q=${encodeURIComponent('back\\slash')}`);
    expect(hit.body.tasks.map((x: { taskId: string }) => x.taskId)).toEqual([created.body.taskId]);
    // "000" and "200" are how PostgreSQL escapes NUL and byte 0x80: no false match.
    expect((await t.api('GET', '/output/search?q=000')).body.tasks).toEqual([]);
    expect((await t.api('GET', '/output/search?q=200')).body.tasks).toEqual([]);
  });

  it('runs the failed tasks again on their machines only, as a new batch, for operators', async () => {
    const viewer = await as('viewer')('POST', `/batches/${batchId}/rerun-failed`, {});
    expect([viewer.status, viewer.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const outsider = await as('outsider')('POST', `/batches/${batchId}/rerun-failed`, {});
    expect([outsider.status, outsider.body.error.code]).toEqual([404, 'BATCH_NOT_FOUND']);
    expect((await as('op')('POST', `/batches/${batchId}/rerun-failed`, { rolling: 'x' })).status).toBe(400);

    // A machine that is gone is skipped.
    expect((await t.api('DELETE', '/machines/bm-9')).status).toBe(204);
    const rerun = await as('op')('POST', `/batches/${batchId}/rerun-failed`, { rolling: 2 });
    expect(rerun.status, JSON.stringify(rerun.body)).toBe(201);
    expect(rerun.body).toMatchObject({
      from: batchId,
      count: 5,
      skipped: [{ machine: 'bm-9', taskId: taskIds[9] }],
    });
    expect(rerun.body.batchId).not.toBe(batchId);
    await waitBatch(rerun.body.batchId);
    const grid = (await t.api('GET', `/batches/${rerun.body.batchId}/tasks`)).body;
    expect(grid.tasks.map((x: { machine: string }) => x.machine)).toEqual([
      'bm-1',
      'bm-3',
      'bm-4',
      'bm-5',
      'bm-7',
    ]);
    const first = (await t.api('GET', `/tasks/${grid.tasks[0].taskId}`)).body;
    expect(first).toMatchObject({
      command: commandOf(1),
      priority: 2,
      env: ['MODE'],
      createdBy: 'op@example.com',
    });
    expect((await t.api('GET', `/batches/${rerun.body.batchId}/failures`)).body.failed).toBe(5);

    // The batch's audit trail: its creation, the refused re-runs (the outsider's is a 404), the re-run.
    const audit = await t.api('GET', `/audit?target=${encodeURIComponent(`batch:${batchId}`)}&order=desc`);
    expect(audit.body.map((a: { action: string; outcome: string }) => [a.action, a.outcome])).toEqual([
      ['batches.rerun-failed.create', 'ok'],
      ['batches.rerun-failed.create', 'failed'],
      ['batches.rerun-failed.create', 'denied'],
      ['tasks.create', 'ok'],
    ]);
    expect(audit.body[0].details).toMatchObject({
      from: batchId,
      batch: rerun.body.batchId,
      count: 5,
      skipped: 1,
    });

    // A batch without failures has nothing to re-run.
    const good = await t.api('POST', '/tasks', { machines: ['bm-0', 'bm-2'], command: 'true' });
    await waitBatch(good.body.batchId);
    const none = await t.api('POST', `/batches/${good.body.batchId}/rerun-failed`, {});
    expect([none.status, none.body.error.code]).toEqual([409, 'NO_FAILED_TASKS']);
  });

  it("tells a machine's own history in numbers", async () => {
    const res = await as('viewer')('GET', '/machines/bm-1/task-summary');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      machine: 'bm-1',
      team: 'default',
      counts: { failed: 2 },
      window: { maxTasks: 10_000, counted: 2, complete: true },
    });
    expect(Date.parse(res.body.window.since)).toBeGreaterThan(0);
    expect(res.body.recent).toMatchObject({
      ended: 2,
      failed: 2,
      completed: 0,
      statuses: ['failed', 'failed'],
    });
    expect(typeof res.body.recent.lastFailureAt).toBe('string');
    const ok = (await t.api('GET', '/machines/bm-2/task-summary')).body;
    expect(ok.recent.completed).toBeGreaterThanOrEqual(1);
    expect(ok.recent.medianRunMs).toBeGreaterThanOrEqual(0);
    const hidden = await as('outsider')('GET', '/machines/bm-1/task-summary');
    expect([hidden.status, hidden.body.error.code]).toEqual([404, 'MACHINE_NOT_FOUND']);
  });

  it('groups the first 2,000 failures of a larger batch and only counts the rest', async () => {
    // A bridge of its own, driven over the bridge protocol here: 2,003 failures without 2,003 processes.
    expect((await t.api('POST', '/regions', { name: 'bulk' })).status).toBe(201);
    const bridge = (await t.api('POST', '/bridges', { name: 'bulk-bridge', region: 'bulk' })).body.token;
    for (let i = 0; i < 4; i += 1) {
      const r = await t.api('POST', '/machines', { name: `bulk-${i}`, region: 'bulk', concurrency: 1_000 });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
    }
    const created = await t.api('POST', '/tasks', {
      tasks: Array.from({ length: 2_003 }, (_, i) => ({ machine: `bulk-${i % 4}`, command: 'false' })),
    });
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(201);
    let ended = 0;
    while (ended < 2_003) {
      const claimed = await t.api('POST', '/bridge/claim', { max: 10_000, waitMs: 0 }, bridge);
      expect(claimed.status).toBe(200);
      const refs = (claimed.body.tasks as { taskId: string; attempt: number }[]).map((x) => ({
        taskId: x.taskId,
        attempt: x.attempt,
      }));
      const at = Date.now();
      const report = await t.api(
        'POST',
        '/bridge/report',
        {
          started: refs.map((r) => ({ ...r, at })),
          output: refs.map((r) => ({
            ...r,
            chunk: 0,
            stream: 'stderr',
            at,
            data: `job ${created.body.taskIds.indexOf(r.taskId) + 100} failed: quota exceeded\n`,
          })),
          results: refs.map((r) => ({ ...r, at, exitCode: 7, signal: null, reason: null })),
        },
        bridge,
      );
      expect(report.status, JSON.stringify(report.body)).toBe(200);
      ended += refs.length;
    }
    const res = await t.api('GET', `/batches/${created.body.batchId}/failures`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ failed: 2_003, grouped: 2_000, sampled: true });
    expect(res.body.groups.map((g: { pattern: string; count: number }) => [g.pattern, g.count])).toEqual([
      ['job <n> failed: quota exceeded', 2_000],
    ]);
    expect(res.body.groups[0].tasks).toHaveLength(100);
    // The first failures (creation order) are the ones grouped.
    expect(res.body.groups[0].tasks[0].taskId).toBe(created.body.taskIds[0]);
  }, 120_000);

  it('pages the audit log newest first and filters it by target prefix', async () => {
    const newest = (await t.api('GET', '/audit?order=desc&limit=3')).body as { id: number }[];
    expect(newest).toHaveLength(3);
    expect(newest[0]!.id).toBeGreaterThan(newest[1]!.id);
    const next = (await t.api('GET', `/audit?order=desc&limit=3&before=${newest[2]!.id}`)).body as {
      id: number;
    }[];
    expect(next[0]!.id).toBe(newest[2]!.id - 1);
    const machines = (await t.api('GET', '/audit?target=bm-*&order=desc')).body as { target: string }[];
    expect(machines.length).toBeGreaterThanOrEqual(MACHINES);
    expect(machines.every((a) => a.target.startsWith('bm-'))).toBe(true);
    expect((await t.api('GET', '/audit?target=bm-')).body).toEqual([]);
    expect((await t.api('GET', '/audit?order=sideways')).status).toBe(400);
  });
});
