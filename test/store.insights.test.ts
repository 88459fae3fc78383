import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/core/ids.js';
import type { OutputStream } from '../src/core/types.js';
import type { NewTask } from '../src/store/store.js';
import { dropTestDatabase, newTask, openTestStore, STORES, T0, type TestStore } from './helpers/store.js';

// The dashboard's operator reads (batches, failures, output search, machine
// history) on a real SQLite file and a real PostgreSQL database, alike.

let t: TestStore;
afterAll(dropTestDatabase);

describe.each(STORES)('%s store: insights', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.store.createTeam('other', T0);
    for (const m of ['m1', 'm2', 'm3']) await t.machine(m, 50);
    await t.machine('o1', 50, { team: 'other' });
  });
  afterEach(async () => {
    await t.close();
  });

  const insert = async (tasks: NewTask[], now = T0) => {
    await t.store.insertTasks(tasks, now);
    return tasks.map((x) => x.taskId);
  };
  let chunkNo = 0;
  /** Claims everything waiting, starts it, sends output, ends each with its exit code. */
  const run = async (
    now: number,
    plan: { id: string; out?: [OutputStream, string][]; exit: number | null; attempt?: number }[],
  ) => {
    await t.claim(now);
    await t.report(now, { started: plan.map((p) => ({ taskId: p.id, attempt: p.attempt ?? 1, at: now })) });
    await t.report(now + 1, {
      output: plan.flatMap((p) =>
        (p.out ?? []).map(([stream, data]) => ({
          taskId: p.id,
          attempt: p.attempt ?? 1,
          chunk: chunkNo++,
          stream,
          at: now + 1,
          data,
        })),
      ),
    });
    await t.report(now + 2, {
      results: plan.map((p) => ({
        taskId: p.id,
        attempt: p.attempt ?? 1,
        at: now + 2,
        exitCode: p.exit,
        signal: null,
        reason: null,
      })),
    });
  };

  it('lists batches newest first with counts of the visible tasks, and pages with before', async () => {
    const older = uuidv7(T0);
    const newer = uuidv7(T0 + 1000);
    const [a, b] = await insert([
      newTask('m1', { batchId: older, command: 'echo one', createdBy: 'x@y' }),
      newTask('m2', { batchId: older, command: 'echo one' }),
    ]);
    await insert([
      newTask('m1', { batchId: newer, command: 'deploy' }),
      newTask('m2', { batchId: newer, command: 'deploy --other' }),
      newTask('o1', { batchId: newer, command: 'deploy' }),
    ]);
    await insert([newTask('m3', { command: 'not in a batch' })]);
    await run(T0 + 10, [
      { id: a as string, exit: 0 },
      { id: b as string, exit: 3 },
    ]);

    const all = await t.store.insights.listBatches({ teams: null, limit: 10 });
    expect(all.map((x) => x.batchId)).toEqual([newer, older]);
    expect(all[0]).toMatchObject({ total: 3, teams: ['default', 'other'], command: 'deploy' });
    expect(all[0]?.commands).toBeGreaterThan(1);
    expect(all[1]).toMatchObject({
      total: 2,
      counts: { completed: 1, failed: 1 },
      command: 'echo one',
      commands: 1,
      createdBy: 'x@y',
      createdAt: T0,
    });

    const mine = await t.store.insights.listBatches({ teams: new Set(['default']), limit: 10 });
    expect(mine[0]).toMatchObject({ batchId: newer, total: 2, teams: ['default'] });
    expect(await t.store.insights.listBatches({ teams: new Set(['other']), limit: 10 })).toEqual([
      expect.objectContaining({ batchId: newer, total: 1 }),
    ]);
    expect(await t.store.insights.listBatches({ teams: new Set(), limit: 10 })).toEqual([]);
    const page2 = await t.store.insights.listBatches({ teams: null, limit: 1, before: newer });
    expect(page2.map((x) => x.batchId)).toEqual([older]);
    expect(await t.store.insights.listBatches({ teams: null, limit: 1 })).toHaveLength(1);
  });

  it('returns a batch as compact rows in creation order, only the visible teams', async () => {
    const batch = uuidv7(T0);
    const ids = await insert([
      newTask('m2', { batchId: batch }),
      newTask('o1', { batchId: batch }),
      newTask('m1', { batchId: batch }),
    ]);
    await run(T0 + 5, [{ id: ids[0] as string, exit: 2 }]);
    const rows = await t.store.insights.batchTasks(batch, null);
    expect(rows.map((r) => [r.taskId, r.machine, r.team])).toEqual([
      [ids[0], 'm2', 'default'],
      [ids[1], 'o1', 'other'],
      [ids[2], 'm1', 'default'],
    ]);
    expect(rows[0]).toMatchObject({ status: 'failed', exitCode: 2, reason: 'EXIT_NONZERO', attempts: 1 });
    expect(rows[0]?.finishedAt).toBe(T0 + 7);
    expect(rows[1]).toMatchObject({ status: 'assigned', exitCode: null, startedAt: null, finishedAt: null });
    expect((await t.store.insights.batchTasks(batch, new Set(['other']))).map((r) => r.machine)).toEqual([
      'o1',
    ]);
    expect(await t.store.insights.batchTasks(batch, new Set())).toEqual([]);
    expect(await t.store.insights.batchTasks(uuidv7(T0), null)).toEqual([]);
  });

  it("gives each failed task the last chunk of its last attempt's output, cut to size", async () => {
    const batch = uuidv7(T0);
    const [f1, ok, f2, quiet] = await insert([
      newTask('m1', { batchId: batch, retryCount: 1 }),
      newTask('m2', { batchId: batch }),
      newTask('m3', { batchId: batch }),
      newTask('o1', { batchId: batch }),
    ]);
    await run(T0 + 10, [
      { id: f1 as string, out: [['stderr', 'first attempt said this\n']], exit: 1 },
      { id: ok as string, out: [['stdout', 'fine\n']], exit: 0 },
      {
        id: f2 as string,
        out: [
          ['stdout', 'a\n'],
          ['stdout', 'b\n'],
          ['stderr', `${'x'.repeat(50)}\nE: disk full\n`],
        ],
        exit: 4,
      },
      { id: quiet as string, exit: 9 },
    ]);
    // f1 is retried: its second attempt fails with other words.
    await t.store.promoteDueRetries(T0 + 100);
    await run(T0 + 100, [{ id: f1 as string, attempt: 2, out: [['stderr', 'second attempt\n']], exit: 1 }]);

    const { total, tails } = await t.store.insights.failedTails(batch, null, 10, 20);
    expect(total).toBe(3);
    expect(tails.map((x) => x.taskId)).toEqual([f1, f2, quiet]);
    expect(tails[0]).toMatchObject({ machine: 'm1', exitCode: 1, reason: 'EXIT_NONZERO', archived: false });
    expect(tails[0]?.tail).toEqual([{ stream: 'stderr', data: 'second attempt\n' }]);
    // Only the last chunk is read, cut to its last 20 characters.
    expect(tails[1]?.tail).toEqual([{ stream: 'stderr', data: 'xxxxxx\nE: disk full\n' }]);
    expect(tails[2]).toMatchObject({ team: 'other', exitCode: 9, tail: [] });
    const mine = await t.store.insights.failedTails(batch, new Set(['default']), 10, 20);
    expect([mine.total, mine.tails.map((x) => x.taskId)]).toEqual([2, [f1, f2]]);
    expect(await t.store.insights.failedTails(batch, new Set(), 10, 20)).toEqual({ total: 0, tails: [] });
  });

  it('reads the tails of the first failures only, and counts them all', async () => {
    const batch = uuidv7(T0);
    const ids = await insert(
      Array.from({ length: 5 }, (_, i) => newTask(i === 4 ? 'o1' : `m${(i % 3) + 1}`, { batchId: batch })),
    );
    await run(
      T0 + 10,
      ids.map((id, i) => ({ id, out: [['stderr', `boom ${i}\n`] as [OutputStream, string]], exit: 1 })),
    );
    const sample = await t.store.insights.failedTails(batch, null, 2, 500);
    expect(sample.total).toBe(5);
    expect(sample.tails.map((x) => [x.taskId, x.tail[0]?.data])).toEqual([
      [ids[0], 'boom 0\n'],
      [ids[1], 'boom 1\n'],
    ]);
    const other = await t.store.insights.failedTails(batch, new Set(['other']), 2, 500);
    expect([other.total, other.tails.map((x) => x.taskId)]).toEqual([1, [ids[4]]]);
  });

  it("passes over the output-cap note to the failure's own last output", async () => {
    const batch = uuidv7(T0);
    const [id] = await insert([newTask('m1', { batchId: batch })]);
    await t.claim(T0 + 1);
    await t.report(T0 + 1, { started: [{ taskId: id as string, attempt: 1, at: T0 + 1 }] });
    await t.report(T0 + 2, {
      outputCapBytes: 40,
      output: [
        { taskId: id as string, attempt: 1, chunk: 0, stream: 'stdout', at: T0 + 2, data: 'early\n' },
        {
          taskId: id as string,
          attempt: 1,
          chunk: 1,
          stream: 'stderr',
          at: T0 + 2,
          data: 'E: out of memory\n',
        },
        { taskId: id as string, attempt: 1, chunk: 2, stream: 'stderr', at: T0 + 2, data: 'x'.repeat(100) },
      ],
    });
    await t.report(T0 + 3, {
      results: [{ taskId: id as string, attempt: 1, at: T0 + 3, exitCode: 1, signal: null, reason: null }],
    });
    const stored = await t.store.listOutput(id as string, 0, 10);
    expect(stored.at(-1)?.data).toContain('[rediacc: output cap reached');
    const { tails } = await t.store.insights.failedTails(batch, null, 10, 500);
    expect(tails[0]?.tail).toHaveLength(1);
    expect(tails[0]?.tail[0]?.stream).toBe('stderr');
    expect(tails[0]?.tail[0]?.data).not.toContain('output cap');
  });

  it('hands back what a re-run of the failed tasks needs, plain environment values included', async () => {
    const batch = uuidv7(T0);
    const [f, ok] = await insert([
      newTask('m1', {
        batchId: batch,
        command: 'deploy.sh',
        priority: 2,
        env: { MODE: 'fast' },
        secretEnv: { TOKEN: 'ci/token' },
        retryCount: 2,
        retryDelaySeconds: 5,
        backoff: 'exponential',
        failureAction: 'alert',
        timeoutSeconds: 30,
      }),
      newTask('m2', { batchId: batch }),
    ]);
    await run(T0 + 1, [
      { id: f as string, exit: 1 },
      { id: ok as string, exit: 0 },
    ]);
    // With retries left the task waits to retry; it has not failed yet.
    expect(await t.store.insights.failedInputs(batch, null)).toEqual([]);
    for (const attempt of [2, 3]) {
      await t.store.promoteDueRetries(T0 + attempt * 100_000);
      await run(T0 + attempt * 100_000, [{ id: f as string, attempt, exit: 1 }]);
    }
    expect(await t.store.insights.failedInputs(batch, null)).toEqual([
      {
        taskId: f,
        machine: 'm1',
        team: 'default',
        command: 'deploy.sh',
        priority: 2,
        env: { MODE: 'fast' },
        secretEnv: { TOKEN: 'ci/token' },
        retryCount: 2,
        retryDelaySeconds: 5,
        backoff: 'exponential',
        failureAction: 'alert',
        timeoutSeconds: 30,
      },
    ]);
    expect(await t.store.insights.failedInputs(batch, new Set(['other']))).toEqual([]);
  });

  describe('output search', () => {
    const search = (
      text: string,
      extra: Partial<Parameters<TestStore['store']['insights']['searchOutput']>[0]> = {},
    ) =>
      t.store.insights.searchOutput({
        text,
        teams: null,
        maxTasks: 100,
        maxBytes: 1 << 20,
        limit: 50,
        ...extra,
      });

    it('finds text in any case of ASCII letters, newest task first, with wildcards as plain characters', async () => {
      const [a, b, c, d] = await insert([newTask('m1'), newTask('m2'), newTask('o1'), newTask('m3')]);
      await run(T0 + 1, [
        { id: a as string, out: [['stdout', 'Connection REFUSED by peer\n']], exit: 1 },
        {
          id: b as string,
          out: [
            ['stderr', 'connection refused\n'],
            ['stdout', '100% done_ok\n'],
          ],
          exit: 1,
        },
        { id: c as string, out: [['stdout', 'connection refused (other team)\n']], exit: 1 },
        { id: d as string, out: [['stdout', 'Grüße, 100 percent\n']], exit: 0 },
      ]);
      const hits = await search('connection refused');
      expect(hits.hits.map((h) => [h.taskId, h.stream])).toEqual([
        [c, 'stdout'],
        [b, 'stderr'],
        [a, 'stdout'],
      ]);
      expect(hits).toMatchObject({ scannedTasks: 4, nextBeforeSeq: null, truncated: false });
      expect(hits.hits[0]).toMatchObject({ team: 'other', machine: 'o1', status: 'failed', attempt: 1 });
      // % and _ are characters, not wildcards.
      expect((await search('100% done_')).hits.map((h) => h.taskId)).toEqual([b]);
      expect((await search('0%')).hits.map((h) => h.taskId)).toEqual([b]);
      expect((await search('1_0')).hits).toEqual([]);
      expect((await search('Grüße')).hits.map((h) => h.data)).toEqual(['Grüße, 100 percent\n']);
      // Only the visible teams, and the filters.
      expect((await search('refused', { teams: new Set(['default']) })).hits.map((h) => h.taskId)).toEqual([
        b,
        a,
      ]);
      expect((await search('refused', { teams: new Set() })).hits).toEqual([]);
      expect((await search('refused', { machine: 'm1' })).hits.map((h) => h.taskId)).toEqual([a]);
      expect((await search('refused', { team: 'other' })).hits.map((h) => h.taskId)).toEqual([c]);
      expect((await search('refused', { status: 'completed' })).hits).toEqual([]);
      expect((await search('refused', { since: T0 + 1 })).hits).toEqual([]);
    });

    it('reads a bounded window of tasks and says where the next, older one starts', async () => {
      const ids = await insert(Array.from({ length: 5 }, () => newTask('m1')));
      await run(
        T0 + 1,
        ids.map((id, i) => ({
          id,
          out: [['stdout', `line ${i} needle ${'.'.repeat(100)}\n`] as [OutputStream, string]],
          exit: 0,
        })),
      );
      const seqs = await Promise.all(ids.map(async (id) => (await t.store.getTask(id))?.seq as number));
      const first = await search('needle', { maxTasks: 2 });
      expect(first.hits.map((h) => h.taskId)).toEqual([ids[4], ids[3]]);
      expect(first.scannedTasks).toBe(2);
      expect(first.nextBeforeSeq).toBe(seqs[3]);
      const second = await search('needle', { maxTasks: 2, beforeSeq: first.nextBeforeSeq as number });
      expect(second.hits.map((h) => h.taskId)).toEqual([ids[2], ids[1]]);
      const last = await search('needle', { maxTasks: 2, beforeSeq: second.nextBeforeSeq as number });
      expect(last).toMatchObject({ scannedTasks: 1, nextBeforeSeq: null });
      // A byte budget that holds two tasks' output; the first task is read whatever its size.
      const bytes = (await t.store.getTask(ids[0] as string))?.outputBytes as number;
      expect((await search('needle', { maxBytes: bytes * 2 + 1 })).scannedTasks).toBe(2);
      expect((await search('needle', { maxBytes: 1 })).scannedTasks).toBe(1);
      const capped = await search('needle', { limit: 3 });
      expect(capped.hits).toHaveLength(3);
      expect(capped.truncated).toBe(true);
    });

    it('reads a window larger than one read slice newest first, and stops at the limit', async () => {
      // SQLite reads the window in slices of 2 MiB of output: these tasks take one slice each.
      const ids = await insert(Array.from({ length: 3 }, () => newTask('m1')));
      const big = 'y'.repeat(1_500_000);
      await run(
        T0 + 1,
        ids.map((id, i) => ({
          id,
          out: [
            ['stdout', `${big} needle ${i}a\n`],
            ['stderr', `needle ${i}b\n`],
          ] as [OutputStream, string][],
          exit: 0,
        })),
      );
      const all = await search('needle', { maxBytes: 64 << 20 });
      expect(all.scannedTasks).toBe(3);
      expect(all.hits.map((h) => [h.taskId, h.stream])).toEqual([
        [ids[2], 'stdout'],
        [ids[2], 'stderr'],
        [ids[1], 'stdout'],
        [ids[1], 'stderr'],
        [ids[0], 'stdout'],
        [ids[0], 'stderr'],
      ]);
      const few = await search('needle', { maxBytes: 64 << 20, limit: 3 });
      expect(few.truncated).toBe(true);
      expect(few.hits.map((h) => [h.taskId, h.stream])).toEqual([
        [ids[2], 'stdout'],
        [ids[2], 'stderr'],
        [ids[1], 'stdout'],
      ]);
      const exact = await search('needle', { maxBytes: 64 << 20, limit: 6 });
      expect([exact.hits.length, exact.truncated]).toEqual([6, false]);
      expect(t.store.insights.searchMaxBytes).toBe(kind === 'sqlite' ? 16 << 20 : 64 << 20);
    });

    it('searches output that holds NUL and other control characters', async () => {
      const [id] = await insert([newTask('m1')]);
      await run(T0 + 1, [
        { id: id as string, out: [['stdout', 'bin\u0000ary \u0001 then Needle\\x here\n']], exit: 0 },
      ]);
      expect((await search('needle\\x')).hits.map((h) => h.data)).toEqual([
        'bin\u0000ary \u0001 then Needle\\x here\n',
      ]);
    });
  });

  it("summarises a machine's tasks: counts per status and its last ended ones, newest first", async () => {
    const ids = await insert([newTask('m1'), newTask('m1'), newTask('m1'), newTask('m2')]);
    await run(T0 + 1, [
      { id: ids[0] as string, exit: 0 },
      { id: ids[1] as string, exit: 5 },
      { id: ids[3] as string, exit: 0 },
    ]);
    await insert([newTask('m1')]);
    const s = await t.store.insights.machineTaskSummary('m1', 'default', 10, 100);
    expect(s.counts).toEqual({ completed: 1, failed: 1, assigned: 1, pending: 1 });
    expect([s.counted, s.countedSince]).toEqual([4, T0]);
    expect(s.recent.map((r) => [r.status, r.exitCode])).toEqual([
      ['failed', 5],
      ['completed', 0],
    ]);
    expect(s.recent[1]).toMatchObject({ startedAt: T0 + 1, finishedAt: T0 + 3 });
    expect(await t.store.insights.machineTaskSummary('m1', 'other', 10, 100)).toEqual({
      counts: {},
      counted: 0,
      countedSince: null,
      recent: [],
    });
    expect((await t.store.insights.machineTaskSummary('m1', 'default', 1, 100)).recent).toHaveLength(1);
  });

  it("counts only a machine's newest tasks, up to the window", async () => {
    await insert([newTask('m1'), newTask('m1')], T0);
    await insert([newTask('m1'), newTask('m1'), newTask('m2')], T0 + 500);
    const s = await t.store.insights.machineTaskSummary('m1', 'default', 10, 2);
    expect(s.counted).toBe(2);
    expect(s.countedSince).toBe(T0 + 500);
    expect(Object.values(s.counts).reduce((a, b) => a + b, 0)).toBe(2);
    const all = await t.store.insights.machineTaskSummary('m1', 'default', 10, 10);
    expect([all.counted, all.countedSince]).toEqual([4, T0]);
  });
});
