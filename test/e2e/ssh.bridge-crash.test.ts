import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from '../fleet/fleet.js';
import { daemon, processesWith, rediacc, stop } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.js';

// A bridge that dies (kill -9) leaves nothing running on its SSH machines: the
// remote script notices the end of its channel and stops the attempt's processes.
describe('SSH: bridge crash', () => {
  let t: TestServer;
  let fleet: Fleet;
  let bridge: ChildProcess | undefined;
  const cli = (...args: string[]) =>
    rediacc(args, { env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_DATA_DIR: t.dataDir } });

  beforeAll(async () => {
    fleet = await startFleet({ size: 1 });
    t = await startTestServer({ bridge: false, settings: { leaseMs: 3000 } });
    const m = fleet.machines[0];
    if (m === undefined) throw new Error('no machine');
    const r = await cli(
      'create',
      'machine',
      m.name,
      '--host',
      m.host,
      '--port',
      String(m.port),
      '--user',
      m.user,
      '--ssh-key-file',
      fleet.clientKeyFile,
    );
    expect(r.code, r.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    if (bridge !== undefined) await stop(bridge, 'SIGKILL');
    await t?.close();
    await fleet?.close();
  });

  it('leaves no command running on the machine', async () => {
    const created = JSON.parse((await cli('create', 'bridge', 'crashy', '-o', 'json')).stdout);
    bridge = daemon(['bridge', '--url', t.url], {
      env: {
        REDIACC_BRIDGE_TOKEN: created.token,
        REDIACC_MASTER_PASSWORD: readFileSync(join(t.dataDir, 'master-password'), 'utf8').trim(),
      },
    }).child;
    const marker = `30${process.pid % 10}.7${process.pid}`;
    const task = JSON.parse(
      (
        await cli(
          'create',
          'task',
          '--machine',
          'fleet-01',
          '--retry-count',
          '0',
          '-o',
          'json',
          '--command',
          `sleep ${marker}1 & setsid sleep ${marker}2 & wait`,
        )
      ).stdout,
    );
    await waitFor(
      async () => ((await processesWith(`sleep ${marker}`)).length >= 2 ? true : undefined),
      20_000,
    );
    bridge.kill('SIGKILL');
    await waitFor(
      async () => ((await processesWith(`sleep ${marker}`)).length === 0 ? true : undefined),
      10_000,
    );
    // The control plane learns of it through the lease.
    const ended = await waitFor(async () => {
      const x = JSON.parse((await cli('get', 'task', task.taskId, '-o', 'json')).stdout);
      return x.status === 'failed' ? x : undefined;
    }, 20_000);
    expect(ended.reason).toBe('LOST');
  }, 60_000);
});
