import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutputStream } from '../src/core/types.js';
import { dropTestDatabase, openTestStore, result, STORES, T0, type TestStore } from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

describe.each(STORES)('%s store', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
    await t.machine('m1', 2);
    await t.store.upsertBridge('b2', 'default', T0);
  });
  afterEach(async () => {
    await t.close();
  });

  const out = (
    taskId: string,
    attempt: number,
    chunk: number,
    data: string,
    stream: OutputStream = 'stdout',
  ) => ({
    taskId,
    attempt,
    chunk,
    stream,
    at: T0 + chunk,
    data,
  });

  async function text(taskId: string): Promise<string> {
    return (await t.store.listOutput(taskId, 0, 10_000)).map((c) => c.data).join('');
  }

  async function running(): Promise<string> {
    const id = await t.add('m1', { retryCount: 1 });
    await t.claim(T0);
    await t.report(T0, { started: [{ taskId: id, attempt: 1, at: T0 }] });
    return id;
  }

  describe('output storage', () => {
    it('stores chunks in order with their stream and attempt', async () => {
      const id = await running();
      const r = await t.report(T0 + 1, { output: [out(id, 1, 0, 'a\n'), out(id, 1, 1, 'oops\n', 'stderr')] });
      expect(r.stored.map((s) => s.chunk.data)).toEqual(['a\n', 'oops\n']);
      const chunks = await t.store.listOutput(id, 0, 100);
      expect(chunks.map((c) => [c.attempt, c.stream, c.data])).toEqual([
        [1, 'stdout', 'a\n'],
        [1, 'stderr', 'oops\n'],
      ]);
      expect((await t.store.getTask(id))?.outputBytes).toBe(7);
      // Paging with afterId.
      const first = chunks[0]?.id ?? 0;
      expect((await t.store.listOutput(id, first, 100)).map((c) => c.data)).toEqual(['oops\n']);
      expect(await t.store.listOutput(id, 0, 1)).toHaveLength(1);
    });

    it('drops a repeated chunk number (a retransmitted report)', async () => {
      const id = await running();
      await t.report(T0 + 1, { output: [out(id, 1, 0, 'one\n'), out(id, 1, 1, 'two\n')] });
      const again = await t.report(T0 + 2, { output: [out(id, 1, 1, 'two\n'), out(id, 1, 2, 'three\n')] });
      expect(again.stored.map((s) => s.chunk.data)).toEqual(['three\n']);
      const dupInOne = await t.report(T0 + 3, { output: [out(id, 1, 3, 'four\n'), out(id, 1, 3, 'four\n')] });
      expect(dupInOne.stored).toHaveLength(1);
      // An older chunk number arriving late is dropped too.
      await t.report(T0 + 4, { output: [out(id, 1, 0, 'one\n')] });
      expect(await text(id)).toBe('one\ntwo\nthree\nfour\n');
      expect((await t.store.getTask(id))?.outputBytes).toBe(19);
    });

    it('keeps the chunk numbers of each attempt apart', async () => {
      const id = await running();
      await t.report(T0 + 1, { output: [out(id, 1, 0, 'first try\n')], results: [result(id, 1, T0 + 1, 1)] });
      await t.store.promoteDueRetries(T0 + 1);
      await t.claim(T0 + 2);
      await t.report(T0 + 2, { output: [out(id, 2, 0, 'second try\n')] });
      const chunks = await t.store.listOutput(id, 0, 100);
      expect(chunks.map((c) => [c.attempt, c.data])).toEqual([
        [1, 'first try\n'],
        [2, 'second try\n'],
      ]);
    });

    it('truncates at the output cap, marks it once and discards the rest', async () => {
      const id = await running();
      const cap = 10;
      const r = await t.report(T0 + 1, {
        outputCapBytes: cap,
        output: [out(id, 1, 0, '12345678'), out(id, 1, 1, 'abcdef')],
      });
      expect(r.stored.map((s) => [s.chunk.stream, s.chunk.data.includes('output cap reached')])).toEqual([
        ['stdout', false],
        ['stdout', false],
        ['system', true],
      ]);
      await t.report(T0 + 2, { outputCapBytes: cap, output: [out(id, 1, 2, 'more')] });
      const chunks = await t.store.listOutput(id, 0, 100);
      expect(
        chunks
          .filter((c) => c.stream === 'stdout')
          .map((c) => c.data)
          .join(''),
      ).toBe('12345678ab');
      expect(chunks.filter((c) => c.stream === 'system')).toHaveLength(1);
      expect(await t.store.getTask(id)).toMatchObject({ outputBytes: 10, outputCapped: true });
    });

    it('a chunk that exactly fills the cap is not marked; the next byte is', async () => {
      const id = await running();
      await t.report(T0 + 1, { outputCapBytes: 4, output: [out(id, 1, 0, 'abcd')] });
      expect(await t.store.getTask(id)).toMatchObject({ outputBytes: 4, outputCapped: false });
      await t.report(T0 + 2, { outputCapBytes: 4, output: [out(id, 1, 1, 'e')] });
      expect(await t.store.getTask(id)).toMatchObject({ outputBytes: 4, outputCapped: true });
      expect(await text(id)).toMatch(/^abcd\n\[rediacc: output cap reached/);
    });

    it.each([1, 2, 3])(
      'never stores a broken character when the cap cuts %i byte(s) into one',
      async (cut) => {
        const id = await running();
        const data = 'ab😀cd'; // the emoji is 4 bytes: bytes 2..5
        await t.report(T0 + 1, { outputCapBytes: 2 + cut, output: [out(id, 1, 0, data)] });
        const stored = (await t.store.listOutput(id, 0, 10)).find((c) => c.stream === 'stdout')?.data;
        expect(stored).toBe('ab');
        expect(await t.store.getTask(id)).toMatchObject({ outputBytes: 2, outputCapped: true });
      },
    );

    it('counts bytes, not characters, against the cap', async () => {
      const id = await running();
      await t.report(T0 + 1, { outputCapBytes: 5, output: [out(id, 1, 0, 'ééé')] }); // 6 bytes
      expect((await t.store.getTask(id))?.outputBytes).toBeLessThanOrEqual(5);
      expect(await text(id)).toMatch(/^éé\n\[rediacc/);
    });
  });

  describe('stale reports', () => {
    it('ignores starts, output and results of an attempt that is not the current one', async () => {
      const id = await running();
      await t.report(T0 + 1, { results: [result(id, 1, T0 + 1, 1)] });
      await t.store.promoteDueRetries(T0 + 1);
      await t.claim(T0 + 2); // attempt 2, not yet started
      const stale = await t.report(T0 + 3, {
        started: [{ taskId: id, attempt: 1, at: T0 + 3 }],
        output: [out(id, 1, 5, 'late output of attempt 1')],
        results: [result(id, 1, T0 + 3, 0)],
      });
      expect(stale.stored).toEqual([]);
      expect(stale.changes.tasks).toEqual([]);
      expect(await t.store.getTask(id)).toMatchObject({ status: 'assigned', attempts: 2 });
      expect(await text(id)).toBe('');
      // Future attempt numbers are ignored as well.
      await t.report(T0 + 4, { results: [result(id, 3, T0 + 4, 0)] });
      expect((await t.store.getTask(id))?.status).toBe('assigned');
    });

    it('ignores reports from another bridge and tells that bridge to stop the attempt', async () => {
      const id = await running();
      const other = await t.store.report({
        bridge: 'b2',
        now: T0 + 5,
        leaseMs: 30_000,
        outputCapBytes: 1000,
        started: [],
        output: [out(id, 1, 0, 'not mine')],
        results: [result(id, 1, T0 + 5, 0)],
        running: [{ taskId: id, attempt: 1 }],
      });
      expect(other.stored).toEqual([]);
      expect(other.changes.tasks).toEqual([]);
      expect(other.cancel).toEqual([{ taskId: id, attempt: 1 }]);
      expect(await t.store.getTask(id)).toMatchObject({ status: 'running' });
      expect(await text(id)).toBe('');
      // The owning bridge's heartbeat is still accepted.
      expect((await t.report(T0 + 6, { running: [{ taskId: id, attempt: 1 }] })).cancel).toEqual([]);
    });

    it('refuses a report from an unregistered bridge', async () => {
      await expect(
        t.store.report({
          bridge: 'ghost',
          now: T0,
          leaseMs: 1,
          outputCapBytes: 1,
          started: [],
          output: [],
          results: [],
          running: [],
        }),
      ).rejects.toMatchObject({ code: 'BRIDGE_NOT_FOUND' });
    });
  });
});
