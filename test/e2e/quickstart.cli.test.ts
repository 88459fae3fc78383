import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, processesWith, rediacc, stop, waitForHealth } from '../helpers/cli.js';
import { waitFor } from '../helpers/server.js';

// The README's walkthrough, run as a new user would: `rediacc server` in a
// folder, then the CLI with nothing configured finds it (127.0.0.1:7400 and
// ./.rediacc/admin-token). This is the only test that uses port 7400.
describe('quick start through the CLI', () => {
  let cwd: string;
  let server: ChildProcess;
  let logFile: string;
  const cli = (...args: string[]) => rediacc(args, { cwd });

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'rediacc-quickstart-'));
    ({ child: server, logFile } = daemon(['server'], { cwd }));
    await waitForHealth('http://127.0.0.1:7400');
  });

  afterAll(async () => {
    await stop(server);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('prints the URL and the admin token, saved with mode 0600', async () => {
    const log = await waitFor(async () => {
      const text = readFileSync(logFile, 'utf8');
      return text.includes('admin token') ? text : undefined;
    });
    expect(log).toContain('http://127.0.0.1:7400');
    const token = readFileSync(join(cwd, '.rediacc/admin-token'), 'utf8').trim();
    expect(log).toContain(token);
    expect(statSync(join(cwd, '.rediacc/admin-token')).mode & 0o777).toBe(0o600);
  });

  it('runs the walkthrough example with --wait and exits with the task’s exit code', async () => {
    const r = await cli(
      'create',
      'task',
      '--machine',
      'local',
      '--priority',
      '1',
      '--command',
      'uptime',
      '--wait',
    );
    expect(r.stderr).toContain('completed');
    expect(r.stdout).toMatch(/load average/);
    expect(r.code).toBe(0);
    const failing = await cli(
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'echo out; echo err >&2; exit 7',
      '--wait',
    );
    expect(failing.code).toBe(7);
    expect(failing.stdout).toBe('out\n');
    expect(failing.stderr).toContain('err\n');
  });

  it('accepts the public example verbatim', async () => {
    const r = await cli('create', 'task', '--machine', 'local', '--priority', '1', '--command', 'echo ok');
    expect(r.code).toBe(0);
    const id = /created task ([0-9a-f-]{36})/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    const done = await waitFor(async () => {
      const t = JSON.parse((await cli('get', 'task', id as string, '-o', 'json')).stdout);
      return t.status === 'completed' ? t : undefined;
    });
    expect(done).toMatchObject({
      taskId: id,
      priority: 1,
      priorityLabel: 'critical',
      machine: 'local',
      exitCode: 0,
    });
    const logs = await cli('logs', id as string, '-o', 'json');
    const lines = logs.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      expect.objectContaining({
        stream: 'stdout',
        line: 'ok',
        task: id,
        machine: 'local',
        team: 'default',
        attempt: 1,
      }),
    ]);
    const listed = JSON.parse((await cli('list', 'tasks', '-o', 'json')).stdout) as { taskId: string }[];
    expect(listed.map((t) => t.taskId)).toContain(id);
    const table = await cli('list', 'tasks', '--status', 'completed');
    expect(table.stdout).toMatch(/^TASK ID\s+STATUS\s+PRIORITY/);
    expect(table.stdout).toContain('1 (critical)');
  });

  it('fails after retryCount+1 attempts with exactly one alert', async () => {
    const r = await cli(
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'exit 3',
      '--retry-count',
      '2',
      '--retry-delay',
      '1',
      '--failure-action',
      'alert',
      '--wait',
      '-o',
      'json',
    );
    expect(r.code).toBe(3);
    const task = JSON.parse(r.stdout);
    expect(task).toMatchObject({ status: 'failed', attempts: 3, exitCode: 3, reason: 'EXIT_NONZERO' });
    const full = JSON.parse((await cli('get', 'task', task.taskId, '-o', 'json')).stdout);
    const starts = full.attemptHistory.map((a: { startedAt: string }) => Date.parse(a.startedAt));
    expect(starts).toHaveLength(3);
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(1000);
    expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(1000);
    const alerts = JSON.parse((await cli('list', 'alerts', '-o', 'json')).stdout) as { taskId: string }[];
    expect(alerts.filter((a) => a.taskId === task.taskId)).toHaveLength(1);
  });

  it('cancel kills the whole process tree', async () => {
    const marker = `300.${process.pid}1`;
    const created = await cli(
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      `sh -c 'sleep ${marker} & sleep ${marker}; wait'`,
      '-o',
      'json',
    );
    const id = JSON.parse(created.stdout).taskId as string;
    await waitFor(async () => ((await processesWith(`sleep ${marker}`)).length >= 2 ? true : undefined));
    const cancelled = await cli('cancel', 'task', id);
    expect(cancelled.code).toBe(0);
    await waitFor(async () => ((await processesWith(marker)).length === 0 ? true : undefined), 5000);
    const t = await waitFor(async () => {
      const task = JSON.parse((await cli('get', 'task', id, '-o', 'json')).stdout);
      return task.status === 'cancelled' ? task : undefined;
    });
    expect(t.reason).toBe('CANCELLED');
  });

  it('queue stats and machines answer in text and JSON', async () => {
    const stats = JSON.parse((await cli('queue', 'stats', '-o', 'json')).stdout);
    expect(stats.pending).toEqual({ 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 });
    const machines = JSON.parse((await cli('list', 'machines', '-o', 'json')).stdout);
    expect(machines).toEqual([
      expect.objectContaining({ name: 'local', transport: 'local', concurrency: 4 }),
    ]);
    const text = await cli('queue', 'stats');
    expect(text.stdout).toContain('5 (low)');
  });
});
