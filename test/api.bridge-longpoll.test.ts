import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

// The bridge protocol's long poll: a claim waits for work instead of answering at once.
describe('bridge claim long poll', () => {
  let t: TestServer;
  let token: string;
  beforeAll(async () => {
    t = await startTestServer({ bridge: false });
    await t.api('POST', '/regions', { name: 'lp' });
    await t.api('POST', '/machines', { name: 'lp-1', region: 'lp' });
    token = (await t.api('POST', '/bridges', { name: 'lp-bridge', region: 'lp' })).body.token;
  });
  afterAll(async () => {
    await t.close();
  });

  const claim = (waitMs: number) => t.api('POST', '/bridge/claim', { max: 10, waitMs }, token);

  it('waits for work when there is none', async () => {
    const started = Date.now();
    const r = await claim(1500);
    expect(r.status).toBe(200);
    expect(r.body.tasks).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1200);
  });

  it('answers as soon as a task for its region arrives', async () => {
    const started = Date.now();
    const pending = claim(20_000);
    await new Promise((r) => setTimeout(r, 300));
    const created = await t.api('POST', '/tasks', { machine: 'lp-1', command: 'true' });
    const r = await pending;
    expect(r.body.tasks.map((x: { taskId: string }) => x.taskId)).toEqual([created.body.taskId]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
