import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';

describe('quick start API', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.close();
  });

  it('runs a task on the local machine and stores its output', async () => {
    const created = await t.api('POST', '/tasks', { machine: 'local', command: 'echo hello' });
    expect(created.status).toBe(201);
    const done = await waitFor(async () => {
      const r = await t.api('GET', `/tasks/${created.body.taskId}`);
      return r.body.status === 'completed' ? r.body : undefined;
    });
    expect(done.exitCode).toBe(0);
    const logs = await t.api('GET', `/tasks/${created.body.taskId}/logs`);
    expect(logs.body.chunks.map((c: { data: string }) => c.data).join('')).toBe('hello\n');
  });
});
