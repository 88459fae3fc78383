import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rediacc } from './helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';

// Rolling fan-outs: --rolling bounds how many machines of a batch run at once,
// --max-failures stops the rest once too many have failed.
describe('rolling fan-outs', () => {
  let t: TestServer;
  const machines = ['r-1', 'r-2', 'r-3', 'r-4', 'r-5', 'r-6'];
  const cli = (...args: string[]) =>
    rediacc(args, { env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN } });

  beforeAll(async () => {
    t = await startTestServer();
    for (const name of machines)
      expect((await t.api('POST', '/machines', { name, concurrency: 2 })).status).toBe(201);
  });
  afterAll(async () => {
    await t.close();
  });

  it('--rolling 2 runs at most two machines of the batch at once', async () => {
    const r = await cli(
      'create',
      'task',
      '--machines',
      machines.join(','),
      '--rolling',
      '2',
      '--command',
      'sleep 0.4',
      '-o',
      'json',
    );
    expect(r.code, r.stderr).toBe(0);
    const batchId = JSON.parse(r.stdout).batchId as string;
    let most = 0;
    const done = await waitFor(
      async () => {
        const b = (await t.api('GET', `/batches/${batchId}`)).body;
        most = Math.max(most, (b.counts.running ?? 0) + (b.counts.assigned ?? 0));
        return b.done === machines.length ? b : undefined;
      },
      30_000,
      40,
    );
    expect(done.counts.completed).toBe(6);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
  });

  it('--max-failures stops the rest with ROLLOUT_HALTED', async () => {
    const r = await cli(
      'create',
      'task',
      '--machines',
      machines.join(','),
      '--rolling',
      '1',
      '--max-failures',
      '1',
      '--command',
      'exit 4',
      '--wait',
      '-o',
      'json',
    );
    expect(r.code).toBe(1);
    const batch = JSON.parse(r.stdout);
    expect(batch.counts).toEqual({ failed: 2, cancelled: 4 });
    const tasks = (await t.api('GET', `/tasks?batch=${batch.batchId}`)).body as {
      status: string;
      reason: string;
    }[];
    expect(tasks.filter((x) => x.reason === 'ROLLOUT_HALTED')).toHaveLength(4);
  });

  it('percentages and bad values', async () => {
    const ok = await t.api('POST', '/tasks', {
      machines,
      command: 'true',
      rolling: '50%',
      maxFailures: '10%',
    });
    expect(ok.status).toBe(201);
    const bad = await cli(
      'create',
      'task',
      '--machines',
      machines.join(','),
      '--rolling',
      'half',
      '--command',
      'true',
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--rolling');
    const api = await t.api('POST', '/tasks', { machines, command: 'true', rolling: '150%' });
    expect(api.status).toBe(400);
  });
});
