import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from '../fleet/fleet.js';
import { processesWith, rediacc } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.js';

// Real sshd machines on loopback addresses, driven through the CLI and the
// embedded bridge's SSH pool.
describe('SSH machines', () => {
  let t: TestServer;
  let fleet: Fleet;
  const cli = (...args: string[]) =>
    rediacc(args, { env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_DATA_DIR: t.dataDir } });
  const json = async (...args: string[]) => {
    const r = await cli(...args, '-o', 'json');
    if (r.code !== 0 && r.stdout === '') throw new Error(`rediacc ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    fleet = await startFleet({ size: 10 });
    t = await startTestServer({ settings: { offlineAfterMs: 3000 }, healthIntervalMs: 1000 });
    for (const m of fleet.machines) {
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
        '--labels',
        'role=fleet',
        '--concurrency',
        '4',
      );
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await fleet?.close();
  });

  it('a fan-out of echo $SSH_CONNECTION reaches all 10, each from its own address; host keys get pinned', async () => {
    const r = await cli(
      'create',
      'task',
      '--select',
      'role=fleet',
      '--all',
      '--command',
      'echo $SSH_CONNECTION',
      '--wait',
      '-o',
      'json',
    );
    expect(r.code, r.stderr).toBe(0);
    const batch = JSON.parse(r.stdout);
    expect(batch.counts.completed).toBe(10);
    const tasks = (await json('list', 'tasks', '--batch', batch.batchId)) as {
      taskId: string;
      machine: string;
    }[];
    for (const task of tasks) {
      const out = (await cli('logs', task.taskId)).stdout.trim().split(/\s+/);
      expect(out[2]).toBe(fleet.machine(task.machine).host);
      expect(out[3]).toBe(String(fleet.machine(task.machine).port));
    }
    const m = await json('get', 'machine', 'fleet-01');
    expect(m.hostKeyFingerprint).toBe(fleet.machine('fleet-01').hostKeyFingerprint);
    expect(m.keyCreatedAt).not.toBeNull();
  });

  it('cancel stops the remote process tree, setsid children included', async () => {
    const marker = `30${process.pid % 10}.4${process.pid}`;
    const created = await json(
      'create',
      'task',
      '--machine',
      'fleet-02',
      '--command',
      `sh -c 'sleep ${marker}1 & setsid sleep ${marker}2 & wait'`,
    );
    await waitFor(
      async () => ((await processesWith(`sleep ${marker}`)).length >= 2 ? true : undefined),
      15_000,
    );
    expect((await cli('cancel', 'task', created.taskId)).code).toBe(0);
    await waitFor(
      async () => ((await processesWith(`sleep ${marker}`)).length === 0 ? true : undefined),
      5000,
    );
    const done = await waitFor(async () => {
      const x = await json('get', 'task', created.taskId);
      return x.status === 'cancelled' ? x : undefined;
    });
    expect(done.reason).toBe('CANCELLED');
  });

  it('cancel stops a backgrounded shell loop too', async () => {
    const marker = `0.2${process.pid}7`;
    const created = await json(
      'create',
      'task',
      '--machine',
      'fleet-07',
      '--command',
      `( while :; do sleep ${marker}; done ) & echo started; wait`,
    );
    await waitFor(
      async () => ((await processesWith(`sleep ${marker}`)).length >= 1 ? true : undefined),
      15_000,
    );
    expect((await cli('cancel', 'task', created.taskId)).code).toBe(0);
    const done = await waitFor(async () => {
      const x = await json('get', 'task', created.taskId);
      return x.status === 'cancelled' ? x : undefined;
    }, 15_000);
    expect(done.reason).toBe('CANCELLED');
    await new Promise((r) => setTimeout(r, 600));
    expect(await processesWith(`sleep ${marker}`)).toEqual([]);
  });

  it('secrets reach the remote command through stdin, not the command line, and come back as ***', async () => {
    const set = await rediacc(['vault', 'set', 'app/token', '--stdin'], {
      env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_DATA_DIR: t.dataDir },
      input: 'remote-secret-value-42',
    });
    expect(set.code, set.stderr).toBe(0);
    const r = await cli(
      'create',
      'task',
      '--machine',
      'fleet-03',
      '--env',
      'APP_TOKEN=vault:app/token',
      '--command',
      'echo "token=$APP_TOKEN"; sleep 1',
      '--wait',
    );
    expect(r.stdout).toBe('token=***\n');
  });

  it('machine health is read over the pooled connection', async () => {
    const m = await waitFor(async () => {
      const x = await json('get', 'machine', 'fleet-04');
      return x.health !== null && x.status === 'online' ? x : undefined;
    }, 20_000);
    expect(m.health.memTotalBytes).toBeGreaterThan(0);
    expect(m.health.diskTotalBytes).toBeGreaterThan(0);
    const history = await t.api('GET', '/machines/fleet-04/health?minutes=5');
    expect(history.body.length).toBeGreaterThan(0);
  });

  it('a changed host key is refused with HOST_KEY_MISMATCH and an alert; nothing runs', async () => {
    await fleet.regenerateHostKey('fleet-05');
    const r = await cli(
      'create',
      'task',
      '--machine',
      'fleet-05',
      '--retry-count',
      '2',
      '--command',
      'touch /tmp/should-not-exist',
      '--wait',
      '-o',
      'json',
    );
    const task = JSON.parse(r.stdout);
    expect(task.status).toBe('failed');
    expect(task.reason).toBe('HOST_KEY_MISMATCH');
    expect(task.attempts).toBe(1);
    const alerts = (await json('list', 'alerts')) as { kind: string; machine: string }[];
    expect(alerts).toContainEqual(
      expect.objectContaining({ kind: 'host_key_mismatch', machine: 'fleet-05' }),
    );
  });

  it('a paused machine fails its attempt as unreachable, turns offline, and the retry runs when it is back', async () => {
    await fleet.pause('fleet-06');
    const created = await json(
      'create',
      'task',
      '--machine',
      'fleet-06',
      '--retry-count',
      '3',
      '--retry-delay',
      '2',
      '--command',
      'echo back',
    );
    const failed = await waitFor(async () => {
      const x = await json('get', 'task', created.taskId);
      return x.attemptHistory.some((a: { reason: string }) => a.reason === 'MACHINE_UNREACHABLE')
        ? x
        : undefined;
    }, 40_000);
    expect(failed.status).not.toBe('completed');
    await waitFor(
      async () => ((await json('get', 'machine', 'fleet-06')).status === 'offline' ? true : undefined),
      20_000,
    );
    await fleet.resume('fleet-06');
    const done = await waitFor(async () => {
      const x = await json('get', 'task', created.taskId);
      return x.status === 'completed' ? x : undefined;
    }, 60_000);
    expect((await cli('logs', done.taskId)).stdout).toContain('back');
    await waitFor(
      async () => ((await json('get', 'machine', 'fleet-06')).status === 'online' ? true : undefined),
      20_000,
    );
    const alerts = (await json('list', 'alerts')) as { kind: string; machine: string }[];
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'machine_offline', machine: 'fleet-06' }));
    expect(alerts).toContainEqual(expect.objectContaining({ kind: 'machine_online', machine: 'fleet-06' }));
  }, 150_000);
});
