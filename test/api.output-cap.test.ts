import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createTask, outputOf, waitForEnd } from './helpers/tasks.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ settings: { outputCapBytes: 1000 } });
});
afterAll(async () => {
  await t.close();
});

describe('output cap (outputCapBytes: 1000)', () => {
  it('keeps the first 1000 bytes, marks the cap once, and the task still completes', async () => {
    const id = await createTask(t, { command: "head -c 5000 /dev/zero | tr '\\0' a; echo; echo after" });
    const task = await waitForEnd(t, id);
    expect(task).toMatchObject({ status: 'completed', exitCode: 0, outputBytes: 1000, outputCapped: true });
    expect(await outputOf(t, id, 'stdout')).toBe('a'.repeat(1000));
    const system = await outputOf(t, id, 'system');
    expect(system).toContain('output cap reached');
    expect(system.match(/output cap reached/g)).toHaveLength(1);
    // The marker comes after the kept output.
    const logs = await t.api('GET', `/tasks/${id}/logs`);
    expect(logs.body.chunks.at(-1).stream).toBe('system');
  });

  it('counts stdout and stderr together against the cap', async () => {
    const id = await createTask(t, {
      command: "head -c 600 /dev/zero | tr '\\0' o; sleep 0.3; head -c 600 /dev/zero | tr '\\0' e >&2",
    });
    const task = await waitForEnd(t, id);
    expect(task).toMatchObject({ outputBytes: 1000, outputCapped: true });
    expect(await outputOf(t, id, 'stdout')).toBe('o'.repeat(600));
    expect(await outputOf(t, id, 'stderr')).toBe('e'.repeat(400));
  });

  it('output under the cap is kept whole and not marked', async () => {
    const id = await createTask(t, { command: "head -c 999 /dev/zero | tr '\\0' z" });
    const task = await waitForEnd(t, id);
    expect(task).toMatchObject({ status: 'completed', outputBytes: 999, outputCapped: false });
    expect(await outputOf(t, id, 'stdout')).toBe('z'.repeat(999));
    expect(await outputOf(t, id, 'system')).toBe('');
  });
});
