import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createTask, outputOf, waitForEnd } from './helpers/tasks.js';

const dataDir = mkdtempSync(join(tmpdir(), 'rediacc-restart-'));
const open: TestServer[] = [];
afterAll(async () => {
  for (const s of open) await s.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<TestServer> {
  const s = await startTestServer({ dataDir });
  open.push(s);
  return s;
}

describe('server restart on the same data dir', () => {
  it('keeps tasks, attempts, output, alerts and waiting work', async () => {
    const first = await start();
    const done = await createTask(first, { command: 'echo kept; echo also-kept >&2' });
    const failed = await createTask(first, { command: 'exit 7', failureAction: 'alert' });
    await waitForEnd(first, done);
    await waitForEnd(first, failed);
    // A machine in a region no bridge serves: its task waits across the restart.
    expect((await first.api('POST', '/regions', { name: 'unserved' })).status).toBe(201);
    expect((await first.api('POST', '/machines', { name: 'parked', region: 'unserved' })).status).toBe(201);
    const waiting = await createTask(first, { machine: 'parked', command: 'echo later', priority: 2 });
    const beforeTask = (await first.api('GET', `/tasks/${done}`)).body;
    const beforeStats = (await first.api('GET', '/queue/stats')).body;
    await first.close();
    open.splice(open.indexOf(first), 1);

    const second = await start();
    expect(second.url).not.toBe('');
    const afterTask = (await second.api('GET', `/tasks/${done}`)).body;
    expect(afterTask).toEqual(beforeTask);
    expect(afterTask).toMatchObject({ status: 'completed', exitCode: 0, outputBytes: 15 });
    expect(await outputOf(second, done, 'stdout')).toBe('kept\n');
    expect(await outputOf(second, done, 'stderr')).toBe('also-kept\n');

    expect((await second.api('GET', `/tasks/${failed}`)).body).toMatchObject({
      status: 'failed',
      exitCode: 7,
    });
    const alerts = (await second.api('GET', '/alerts')).body as { taskId: string }[];
    expect(alerts.filter((a) => a.taskId === failed)).toHaveLength(1);

    expect((await second.api('GET', `/tasks/${waiting}`)).body).toMatchObject({
      status: 'pending',
      priority: 2,
    });
    const afterStats = (await second.api('GET', '/queue/stats')).body;
    expect(afterStats.pending).toEqual(beforeStats.pending);
    expect(afterStats.pending['2']).toBe(1);
    expect((await second.api('GET', '/machines/parked')).body).toMatchObject({ pending: 1, running: 0 });

    // The restarted server still runs new work, and ids stay unique.
    const fresh = await createTask(second, { command: 'echo new' });
    expect(fresh).not.toBe(done);
    expect((await waitForEnd(second, fresh)).status).toBe('completed');
    const list = (await second.api('GET', '/tasks?limit=1000')).body as { taskId: string }[];
    expect(list.map((x) => x.taskId).sort()).toEqual([done, failed, waiting, fresh].sort());
  });
});
