import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, freePort, processesWith, rediacc, stop, waitForHealth } from '../helpers/cli.js';
import { waitFor } from '../helpers/server.js';

const TOKEN = 'rdc_restart_test_token';

// The server (with its embedded bridge) is killed with -9 while a task runs.
describe('kill -9 of the server', () => {
  let dataDir: string;
  let url: string;
  let port: number;
  let server: ChildProcess;
  const cli = (...args: string[]) => rediacc(args, { env: { REDIACC_URL: url, REDIACC_TOKEN: TOKEN } });
  const json = async (...args: string[]) => JSON.parse((await cli(...args, '-o', 'json')).stdout);
  const start = async () => {
    server = daemon(['server', '--port', String(port), '--data-dir', dataDir, '--lease-seconds', '2'], {
      env: { REDIACC_ADMIN_TOKEN: TOKEN },
    }).child;
    await waitForHealth(url);
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rediacc-restart-'));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await start();
  });

  afterAll(async () => {
    await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps tasks and output, and reconciles the running attempt by the lease rules', async () => {
    const finished = await cli(
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'echo kept-output',
      '--wait',
    );
    expect(finished.code).toBe(0);
    const doneId = (await json('list', 'tasks'))[0].taskId as string;

    const marker = `restart-${process.pid}`;
    const task = await json(
      'create',
      'task',
      '--machine',
      'local',
      '--retry-count',
      '1',
      '--command',
      `echo attempt-$REDIACC_ATTEMPT; sleep 30 # ${marker}`,
    );
    await waitFor(async () => ((await processesWith(marker)).length > 0 ? true : undefined));
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));

    await start();
    // The restarted embedded bridge stops what its crashed run left behind.
    await waitFor(async () => {
      const t = await json('get', 'task', task.taskId);
      return t.attemptHistory.length === 2 && t.attemptHistory[1].status === 'running' ? t : undefined;
    }, 45_000);
    const again = await json('get', 'task', task.taskId);
    expect(again.attemptHistory[0]).toMatchObject({ attempt: 1, status: 'lost', reason: 'LOST' });
    // Only the second attempt's command is alive.
    expect((await processesWith(marker)).length).toBeGreaterThan(0);
    const cancelled = await json('cancel', 'task', task.taskId);
    expect(['cancelling', 'cancelled']).toContain(cancelled.status);
    await waitFor(async () => ((await processesWith(marker)).length === 0 ? true : undefined), 20_000);

    const kept = await cli('logs', doneId);
    expect(kept.stdout).toBe('kept-output\n');
    const logs = await cli('logs', task.taskId);
    expect(logs.stdout).toContain('attempt-1');
    expect(logs.stdout).toContain('attempt-2');
  });
});
