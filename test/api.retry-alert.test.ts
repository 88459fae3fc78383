import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createTask, outputOf, waitForEnd, waitForStatus } from './helpers/tasks.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

async function alertsFor(taskId: string) {
  const res = await t.api('GET', '/alerts?limit=1000');
  expect(res.status).toBe(200);
  return (res.body as { taskId: string | null }[]).filter((a) => a.taskId === taskId);
}

describe('retries and alerts through the API', () => {
  it('exit 3 with retryCount 2, retryDelay 1: three attempts at least 1 s apart, failed, one alert', async () => {
    const id = await createTask(t, {
      command: 'echo "attempt $REDIACC_ATTEMPT"; exit 3',
      retryCount: 2,
      retryDelay: 1,
      failureAction: 'alert',
    });
    const task = await waitForEnd(t, id, 45_000);
    expect(task).toMatchObject({
      status: 'failed',
      exitCode: 3,
      reason: 'EXIT_NONZERO',
      attempts: 3,
      retryCount: 2,
      retryDelay: 1,
      failureAction: 'alert',
      retryAt: null,
    });
    const history = task.attemptHistory as {
      attempt: number;
      status: string;
      startedAt: string;
      finishedAt: string;
      exitCode: number;
    }[];
    expect(history.map((a) => [a.attempt, a.status, a.exitCode])).toEqual([
      [1, 'failed', 3],
      [2, 'failed', 3],
      [3, 'failed', 3],
    ]);
    for (let i = 1; i < history.length; i += 1) {
      const prev = history[i - 1]!;
      const cur = history[i]!;
      // The delay counts from the end of the failed attempt, so starts are at least 1 s apart.
      expect(Date.parse(cur.startedAt) - Date.parse(prev.finishedAt)).toBeGreaterThanOrEqual(1000);
      expect(Date.parse(cur.startedAt) - Date.parse(prev.startedAt)).toBeGreaterThanOrEqual(1000);
    }
    const alerts = await alertsFor(id);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: 'task_failed', machine: 'local', team: 'default' });
    // Each attempt's output is kept.
    expect(await outputOf(t, id, 'stdout')).toBe('attempt 1\nattempt 2\nattempt 3\n');
  });

  it('failureAction none fails without an alert', async () => {
    const id = await createTask(t, { command: 'exit 4', failureAction: 'none' });
    expect(await waitForEnd(t, id)).toMatchObject({ status: 'failed', exitCode: 4, attempts: 1 });
    expect(await alertsFor(id)).toEqual([]);
  });

  it('a task that succeeds on a retry completes and never alerts', async () => {
    const id = await createTask(t, {
      command: '[ "$REDIACC_ATTEMPT" = 2 ]',
      retryCount: 3,
      retryDelay: 0,
      failureAction: 'alert',
    });
    const task = await waitForEnd(t, id);
    expect(task).toMatchObject({ status: 'completed', exitCode: 0, attempts: 2 });
    expect(task.attemptHistory.map((a: { status: string }) => a.status)).toEqual(['failed', 'completed']);
    expect(await alertsFor(id)).toEqual([]);
  });

  it('a manual retry runs an ended task again', async () => {
    const id = await createTask(t, { command: 'echo "run $REDIACC_ATTEMPT"; exit 1' });
    await waitForEnd(t, id);
    const again = await t.api('POST', `/tasks/${id}/retry`);
    expect(again.status).toBe(200);
    expect(['pending', 'assigned', 'running', 'failed']).toContain(again.body.status);
    const task = await waitForEnd(t, id);
    expect(task).toMatchObject({ status: 'failed', attempts: 2 });
    expect(await outputOf(t, id, 'stdout')).toBe('run 1\nrun 2\n');
  });

  it('a running task cannot be retried (409 TASK_NOT_FINISHED)', async () => {
    const id = await createTask(t, { command: 'sleep 30' });
    await waitForStatus(t, id, 'running');
    expectErrorBody(await t.api('POST', `/tasks/${id}/retry`), 409, 'TASK_NOT_FINISHED');
    expect((await t.api('POST', `/tasks/${id}/cancel`)).status).toBe(200);
    expect((await waitForEnd(t, id)).status).toBe('cancelled');
    expectErrorBody(await t.api('POST', `/tasks/${id}/cancel`), 409, 'TASK_FINISHED');
  });
});
