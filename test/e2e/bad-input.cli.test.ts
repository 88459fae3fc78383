import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rediacc } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../helpers/server.js';

// Bad input through the CLI: a message on stderr, exit code 2, nothing created.
describe('CLI bad input', () => {
  let t: TestServer;
  let dir: string;
  const cli = (args: string[], token = ADMIN_TOKEN) =>
    rediacc(args, { env: { REDIACC_URL: t.url, REDIACC_TOKEN: token } });
  const taskCount = async () => (await t.api('GET', '/tasks?limit=1000')).body.length as number;

  beforeAll(async () => {
    t = await startTestServer({ bridge: false });
    dir = mkdtempSync(join(tmpdir(), 'rediacc-bad-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [string, string[], RegExp][] = [
    [
      'priority out of range',
      ['create', 'task', '--machine', 'local', '--priority', '6', '--command', 'x'],
      /priority must be 1-5/,
    ],
    [
      'priority zero',
      ['create', 'task', '--machine', 'local', '--priority', '0', '--command', 'x'],
      /priority/,
    ],
    [
      'unknown priority label',
      ['create', 'task', '--machine', 'local', '--priority', 'urgent', '--command', 'x'],
      /critical/,
    ],
    [
      'unknown machine',
      ['create', 'task', '--machine', 'nope', '--command', 'x'],
      /machine 'nope' does not exist \[MACHINE_NOT_FOUND\]/,
    ],
    ['empty command', ['create', 'task', '--machine', 'local', '--command', ''], /command/],
    ['blank command', ['create', 'task', '--machine', 'local', '--command', '   '], /non-empty command/],
    ['missing command', ['create', 'task', '--machine', 'local'], /--command is required/],
    ['missing target', ['create', 'task', '--command', 'x'], /--machine/],
    [
      'negative retry count',
      ['create', 'task', '--machine', 'local', '--command', 'x', '--retry-count', '-1'],
      /retry-count/,
    ],
    [
      'negative retry delay',
      ['create', 'task', '--machine', 'local', '--command', 'x', '--retry-delay', '-5'],
      /retry-delay/,
    ],
    [
      'bad backoff',
      ['create', 'task', '--machine', 'local', '--command', 'x', '--backoff', 'linear'],
      /fixed, exponential/,
    ],
    [
      'bad failure action',
      ['create', 'task', '--machine', 'local', '--command', 'x', '--failure-action', 'page'],
      /alert, none/,
    ],
    [
      'zero timeout',
      ['create', 'task', '--machine', 'local', '--command', 'x', '--timeout', '0'],
      /positive/,
    ],
    [
      'unknown flag',
      ['create', 'task', '--machine', 'local', '--command', 'x', '--colour', 'red'],
      /unknown option '--colour'/,
    ],
    ['bad env', ['create', 'task', '--machine', 'local', '--command', 'x', '--env', '1X=y'], /NAME=value/],
    ['bad output format', ['list', 'tasks', '-o', 'yaml'], /text or json/],
    ['bad task id', ['get', 'task', 'not-a-uuid'], /not a task id/],
    ['unknown task', ['get', 'task', '00000000-0000-4000-8000-000000000000'], /TASK_NOT_FOUND/],
    ['unknown command', ['frobnicate'], /unknown command/],
  ];

  it.each(cases)('%s → exit 2 with a message, nothing created', async (_name, args, message) => {
    const before = await taskCount();
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(await taskCount()).toBe(before);
  });

  it('a wrong token is refused with exit 2 and the code', async () => {
    const r = await cli(['list', 'tasks'], 'rdc_wrong');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('INVALID_TOKEN');
  });

  it('malformed JSONL names the line and creates nothing', async () => {
    const before = await taskCount();
    const file = join(dir, 'broken.jsonl');
    writeFileSync(file, '{"machine":"local","command":"echo 1"}\n\n{"machine":"local","command":"echo 2"\n');
    const r = await cli(['create', 'task', '--file', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.jsonl line 3: invalid JSON/);
    expect(await taskCount()).toBe(before);
  });

  it('an invalid task in JSONL names its line and creates nothing', async () => {
    const before = await taskCount();
    const file = join(dir, 'invalid.jsonl');
    writeFileSync(
      file,
      [
        '{"machine":"local","command":"echo 1"}',
        '# comment',
        '{"machine":"local","command":"echo 2","retryCount":-2}',
      ].join('\n'),
    );
    const r = await cli(['create', 'task', '--file', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/line 3: tasks\[1\]\.retryCount/);
    expect(await taskCount()).toBe(before);
  });

  it('JSONL from stdin with flags as defaults creates one batch', async () => {
    const r = await rediacc(['create', 'task', '--file', '-', '--priority', 'low', '-o', 'json'], {
      env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN },
      input:
        '{"machine":"local","command":"echo a"}\n{"machine":"local","command":"echo b","priority":"critical"}\n',
    });
    expect(r.code).toBe(0);
    const batch = JSON.parse(r.stdout);
    expect(batch.count).toBe(2);
    const tasks = (await t.api('GET', `/tasks?batch=${batch.batchId}`)).body as {
      priority: number;
      command: string;
    }[];
    expect(tasks.map((x) => [x.command, x.priority]).sort()).toEqual([
      ['echo a', 5],
      ['echo b', 1],
    ]);
  });

  it('the retry policy file of the public example is accepted; unknown keys are not', async () => {
    const good = join(dir, 'policy.json');
    writeFileSync(
      good,
      '{"taskId":"550e8400-e29b-41d4-a716-446655440000","retryCount":3,"retryDelay":30,"failureAction":"alert"}',
    );
    const r = await cli([
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'true',
      '--retry-policy',
      good,
      '-o',
      'json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ retryCount: 3, retryDelay: 30, failureAction: 'alert' });
    const bad = join(dir, 'bad-policy.json');
    writeFileSync(bad, '{"retryCount":3,"retries":5}');
    const before = await taskCount();
    const r2 = await cli([
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'true',
      '--retry-policy',
      bad,
    ]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain("unknown key 'retries'");
    expect(await taskCount()).toBe(before);
  });
});
