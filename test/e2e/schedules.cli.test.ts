import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/server/start.js';
import { rediacc } from '../helpers/cli.js';
import { ADMIN_TOKEN, waitFor } from '../helpers/server.js';

// The real CLI against a real server with its embedded bridge. The server's
// clock runs at real speed but may be set ahead, so a minute boundary comes
// within seconds instead of up to a minute.
describe('schedules in the CLI', () => {
  let server: RunningServer;
  let offsetMs = 0;
  const dir = mkdtempSync(join(tmpdir(), 'rediacc-sched-cli-'));
  const cli = (...args: string[]) =>
    rediacc(args, { env: { REDIACC_URL: server.url, REDIACC_TOKEN: ADMIN_TOKEN } });
  const scheduleCount = async () => JSON.parse((await cli('list', 'schedules', '-o', 'json')).stdout).length;

  beforeAll(async () => {
    server = await startServer({
      dataDir: dir,
      port: 0,
      adminToken: ADMIN_TOKEN,
      logger: pino({ level: 'silent' }),
      healthIntervalMs: 0,
      clock: () => Date.now() + offsetMs,
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('create, list, get, pause, resume and delete', async () => {
    const created = await cli(
      'create',
      'schedule',
      'nightly',
      '--cron',
      '0 3 * * *',
      '--timezone',
      'Europe/Berlin',
      '--machine',
      'local',
      '--command',
      'echo backup',
      '--retry-count',
      '2',
      '--priority',
      'high',
      '--env',
      'MODE=full',
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(
      /^created schedule nightly \(team default\): '0 3 \* \* \*' in Europe\/Berlin; next run \d{4}-\d\d-\d\d 03:00 Europe\/Berlin\n$/,
    );
    const list = await cli('list', 'schedules');
    expect(list.stdout).toMatch(
      /^NAME\s+TEAM\s+CRON\s+TIMEZONE\s+STATE\s+NEXT RUN\s+LAST\s+TARGET\s+COMMAND\n/,
    );
    expect(list.stdout).toMatch(
      /nightly\s+default\s+0 3 \* \* \*\s+Europe\/Berlin\s+active\s+\S+ 03:00\s+-\s+local\s+echo backup/,
    );
    const got = await cli('get', 'schedule', 'nightly', '--next', '3');
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain('priority:    2 (high)');
    expect(got.stdout).toContain('retry:       2 retries, 0s apart (fixed), on failure: none');
    expect(got.stdout).toContain('env:         MODE\n');
    expect(got.stdout).not.toContain('full');
    const next = (got.stdout.split('next runs:\n')[1]?.trim().split('\n') ?? []).map((l) => l.trim());
    expect(next).toHaveLength(3);
    for (const line of next)
      expect(line).toMatch(/^\d{4}-\d\d-\d\d 03:00 Europe\/Berlin {2}\(\S+T0[12]:00:00\.000Z\)$/);
    const json = JSON.parse((await cli('get', 'schedule', 'nightly', '-o', 'json')).stdout);
    expect(json).toMatchObject({
      name: 'nightly',
      task: { priority: 2, env: ['MODE'] },
      nextRuns: expect.any(Array),
    });

    const paused = await cli('pause', 'schedule', 'nightly');
    expect(paused).toMatchObject({ code: 0, stdout: 'schedule nightly paused\n' });
    expect((await cli('get', 'schedule', 'nightly')).stdout).toContain('next runs:\n  none (paused)\n');
    const resumed = await cli('resume', 'schedule', 'nightly');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^schedule nightly resumed; next run \S+ 03:00 Europe\/Berlin\n$/);
    expect(await cli('delete', 'schedule', 'nightly')).toMatchObject({
      code: 0,
      stdout: 'deleted schedule nightly\n',
    });
    expect(await cli('get', 'schedule', 'nightly')).toMatchObject({ code: 2 });
  });

  it('bad input: exit 2, a clear message, nothing created', async () => {
    const base = ['create', 'schedule', 'bad', '--machine', 'local', '--command', 'true'];
    const cases: [string[], RegExp][] = [
      [[...base, '--cron', 'every day'], /cron 'every day' has 2 field\(s\).*\[INVALID_CRON\]/],
      [[...base, '--cron', '* * * * * *'], /a seconds field is not supported\) \[INVALID_CRON\]/],
      [[...base, '--cron', '0 25 * * *'], /\[INVALID_CRON\]/],
      [
        [...base, '--cron', '0 3 * * *', '--timezone', 'Moon/Base'],
        /'Moon\/Base' is not an IANA time zone .*\[INVALID_TIMEZONE\]/,
      ],
      [
        ['create', 'schedule', 'bad', '--cron', '0 3 * * *', '--machine', 'ghost', '--command', 'x'],
        /machine 'ghost' does not exist \[MACHINE_NOT_FOUND\]/,
      ],
      [base, /--cron is required/],
      [['create', 'schedule', 'bad', '--cron', '0 3 * * *', '--machine', 'local'], /--command is required/],
      [['create', 'schedule', 'bad', '--cron', '0 3 * * *', '--command', 'x'], /--machine/],
      [[...base, '--cron', '0 3 * * *', '--overlap', 'queue'], /--overlap must be skip or allow/],
      [[...base, '--cron', '0 3 * * *', '--priority', '7'], /priority/],
      [[...base, '--cron', '0 3 * * *', '--retry-count', '-1'], /retry-count/],
      [[...base, '--cron', '0 3 * * *', '--timeout', '0'], /timeout/],
      [[...base, '--cron', '0 3 * * *', '--env', 'not a pair'], /--env takes NAME=value/],
      [[...base, '--cron', '0 3 * * *', '--machines', 'local', '--select', 'a=b'], /give one of/],
      [
        ['create', 'schedule', 'bad name', '--cron', '0 3 * * *', '--machine', 'local', '--command', 'x'],
        /not a schedule name/,
      ],
      [['get', 'schedule', 'nope'], /schedule 'nope' does not exist \[SCHEDULE_NOT_FOUND\]/],
      [['get', 'schedule', 'nope', '--next', 'x'], /--next/],
      [['pause', 'schedule', 'nope'], /\[SCHEDULE_NOT_FOUND\]/],
      [['delete', 'schedule', 'nope'], /\[SCHEDULE_NOT_FOUND\]/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout).toBe('');
    }
    expect(await scheduleCount()).toBe(0);
  });

  it('a schedule every minute creates a task that runs, marked with the schedule', async () => {
    const created = await cli(
      'create',
      'schedule',
      'heartbeat',
      '--cron',
      '* * * * *',
      '--machine',
      'local',
      '--command',
      'echo beat',
      '-o',
      'json',
    );
    expect(created.code, created.stderr).toBe(0);
    const nextRunAt = Date.parse(JSON.parse(created.stdout).nextRunAt);
    // Set the server's clock to 1.5 s before that minute.
    offsetMs = nextRunAt - 1500 - Date.now();
    const fired = await waitFor(async () => {
      const s = JSON.parse((await cli('get', 'schedule', 'heartbeat', '-o', 'json')).stdout);
      return s.lastOutcome === null ? undefined : s;
    }, 20_000);
    expect(fired).toMatchObject({ lastOutcome: 'created', lastRunAt: new Date(nextRunAt).toISOString() });
    const taskId = fired.lastTaskIds[0] as string;
    const done = await waitFor(async () => {
      const t = JSON.parse((await cli('get', 'task', taskId, '-o', 'json')).stdout);
      return t.status === 'completed' ? t : undefined;
    }, 20_000);
    expect(done).toMatchObject({ createdBy: 'schedule:heartbeat', command: 'echo beat', exitCode: 0 });
    const text = await cli('get', 'task', taskId);
    expect(text.stdout).toMatch(/createdBy:\s+schedule:heartbeat/);
    const logs = await cli('logs', taskId);
    expect(logs.stdout).toBe('beat\n');
    const get = await cli('get', 'schedule', 'heartbeat');
    expect(get.stdout).toMatch(/lastOutcome: created \(due \S+ \S+ UTC\)/);
    expect(get.stdout).toContain(`lastTasks:   ${taskId}`);
    await cli('delete', 'schedule', 'heartbeat');
  });
});
