import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { createTask, pgrep, sleepMarker, waitForEnd, waitForStatus } from './helpers/tasks.js';

let t: TestServer;
const markers: string[] = [];
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
  // Never leave processes behind, even when a test failed.
  for (const m of markers) for (const pid of pgrep(`sleep ${m}`)) process.kill(pid, 'SIGKILL');
});

/** A command whose whole tree (a shell, a background and a foreground sleep) carries a unique marker. */
function tree(prefix = ''): { marker: string; command: string } {
  const marker = sleepMarker();
  markers.push(marker);
  return { marker, command: `${prefix}sh -c 'sleep ${marker} & sleep ${marker}; wait'` };
}

/** Waits until both sleeps of the tree run. */
async function treeRunning(marker: string): Promise<void> {
  await waitFor(async () => (pgrep(`^sleep ${marker}`).length >= 2 ? true : undefined), 15_000);
}

async function treeGone(marker: string, timeoutMs: number): Promise<void> {
  await waitFor(async () => (pgrep(`sleep ${marker}`).length === 0 ? true : undefined), timeoutMs);
}

describe('cancel', () => {
  it('kills the whole process tree of a running task within 5 s and ends it cancelled', async () => {
    const { marker, command } = tree();
    const id = await createTask(t, { command, retryCount: 3, failureAction: 'alert' });
    await waitForStatus(t, id, 'running');
    await treeRunning(marker);

    const res = await t.api('POST', `/tasks/${id}/cancel`);
    expect(res.status).toBe(200);
    expect(['cancelling', 'cancelled']).toContain(res.body.status);

    await treeGone(marker, 5000);
    const task = await waitForEnd(t, id, 15_000);
    expect(task).toMatchObject({ status: 'cancelled', reason: 'CANCELLED', attempts: 1 });
    expect(task.attemptHistory).toMatchObject([{ attempt: 1, status: 'cancelled' }]);
    // Cancelled on purpose: no retry, no alert.
    const alerts = await t.api('GET', '/alerts');
    expect(alerts.body.filter((a: { taskId: string }) => a.taskId === id)).toEqual([]);
  });

  it('kills a tree that ignores SIGTERM too (SIGKILL after the grace period)', async () => {
    const { marker, command } = tree("trap '' TERM; ");
    const id = await createTask(t, { command });
    await waitForStatus(t, id, 'running');
    await treeRunning(marker);
    expect((await t.api('POST', `/tasks/${id}/cancel`)).status).toBe(200);
    await treeGone(marker, 15_000);
    expect((await waitForEnd(t, id, 15_000)).status).toBe('cancelled');
  });

  it('cancels a waiting task at once', async () => {
    const blocker = tree();
    await t.api('POST', '/machines', { name: 'cancel-one', concurrency: 1 });
    const running = await createTask(t, { machine: 'cancel-one', command: blocker.command });
    await waitForStatus(t, running, 'running');
    const waiting = await createTask(t, { machine: 'cancel-one', command: 'echo never' });
    const res = await t.api('POST', `/tasks/${waiting}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'cancelled', reason: 'CANCELLED', attempts: 0 });
    expect((await t.api('POST', `/tasks/${running}/cancel`)).status).toBe(200);
    await treeGone(blocker.marker, 5000);
    expect((await waitForEnd(t, running)).status).toBe('cancelled');
    expect((await t.api('GET', `/tasks/${waiting}`)).body.attempts).toBe(0);
  });
});

describe('timeout', () => {
  it('kills the tree after the timeout and fails the task with TIMEOUT', async () => {
    const { marker, command } = tree();
    const id = await createTask(t, { command, timeout: 2 });
    await waitForStatus(t, id, 'running');
    await treeRunning(marker);
    const task = await waitForEnd(t, id, 20_000);
    expect(task).toMatchObject({ status: 'failed', reason: 'TIMEOUT', timeout: 2, attempts: 1 });
    expect(task.attemptHistory[0]).toMatchObject({ status: 'failed', reason: 'TIMEOUT' });
    // It ran at least as long as the timeout.
    const ranMs =
      Date.parse(task.attemptHistory[0].finishedAt) - Date.parse(task.attemptHistory[0].startedAt);
    expect(ranMs).toBeGreaterThanOrEqual(1900);
    await treeGone(marker, 5000);
  });

  it('retries a timed-out task per its policy', async () => {
    const id = await createTask(t, { command: 'sleep 5', timeout: 0.5, retryCount: 1 });
    const task = await waitForEnd(t, id, 20_000);
    expect(task).toMatchObject({ status: 'failed', reason: 'TIMEOUT', attempts: 2 });
    expect(task.attemptHistory.map((a: { reason: string }) => a.reason)).toEqual(['TIMEOUT', 'TIMEOUT']);
  });

  it('a task that ends before its timeout completes normally', async () => {
    const id = await createTask(t, { command: 'echo quick', timeout: 30 });
    expect(await waitForEnd(t, id)).toMatchObject({ status: 'completed', exitCode: 0, reason: null });
  });
});
