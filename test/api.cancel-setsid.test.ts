import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesWith } from './helpers/cli.js';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';

// Local commands that leave their process group (setsid) are stopped too.
describe('cancel on the local transport', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.close();
  });

  it('stops children that left the process group with setsid', async () => {
    const marker = `30${process.pid % 10}.9${process.pid}`;
    const created = await t.api('POST', '/tasks', {
      machine: 'local',
      command: `sh -c 'sleep ${marker}1 & setsid sleep ${marker}2 & wait'`,
    });
    await waitFor(async () => ((await processesWith(`sleep ${marker}`)).length >= 2 ? true : undefined));
    expect((await t.api('POST', `/tasks/${created.body.taskId}/cancel`, {})).status).toBe(200);
    await waitFor(
      async () => ((await processesWith(`sleep ${marker}`)).length === 0 ? true : undefined),
      5000,
    );
    const task = await waitFor(async () => {
      const r = await t.api('GET', `/tasks/${created.body.taskId}`);
      return r.body.status === 'cancelled' ? r.body : undefined;
    });
    expect(task.reason).toBe('CANCELLED');
  });
});
