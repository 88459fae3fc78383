import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rediacc } from './helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from './helpers/server.js';

describe('Idempotency-Key on task creation', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ bridge: false });
  });
  afterAll(async () => {
    await t.close();
  });

  const post = (body: unknown, key?: string) =>
    fetch(`${t.url}/api/v1/tasks`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        'content-type': 'application/json',
        ...(key === undefined ? {} : { 'idempotency-key': key }),
      },
      body: JSON.stringify(body),
    });
  const count = async () => ((await t.api('GET', '/tasks?limit=1000')).body as unknown[]).length;

  it('a retried create returns the first result instead of a duplicate', async () => {
    const before = await count();
    const first = await post({ machine: 'local', command: 'echo once' }, 'key-1');
    const again = await post({ machine: 'local', command: 'echo once' }, 'key-1');
    expect(first.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { taskId: string }).taskId).toBe(
      ((await first.json()) as { taskId: string }).taskId,
    );
    expect(await count()).toBe(before + 1);
    const batch1 = (await (
      await post(
        {
          tasks: [
            { machine: 'local', command: 'a' },
            { machine: 'local', command: 'b' },
          ],
        },
        'key-2',
      )
    ).json()) as { batchId: string };
    const batch2 = (await (
      await post(
        {
          tasks: [
            { machine: 'local', command: 'a' },
            { machine: 'local', command: 'b' },
          ],
        },
        'key-2',
      )
    ).json()) as { batchId: string };
    expect(batch2.batchId).toBe(batch1.batchId);
    expect(await count()).toBe(before + 3);
  });

  it('concurrent creates with one key make the tasks once', async () => {
    const before = await count();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => post({ machine: 'local', command: 'echo race' }, 'key-race')),
    );
    const ids = new Set(
      await Promise.all(answers.map(async (a) => ((await a.json()) as { taskId: string }).taskId)),
    );
    expect(ids.size).toBe(1);
    expect(await count()).toBe(before + 1);
  });

  it('refuses a malformed key; the CLI passes --idempotency-key', async () => {
    expect((await post({ machine: 'local', command: 'x' }, 'has space')).status).toBe(400);
    const env = { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN };
    const a = await rediacc(
      [
        'create',
        'task',
        '--machine',
        'local',
        '--command',
        'true',
        '--idempotency-key',
        'cli-1',
        '-o',
        'json',
      ],
      { env },
    );
    const b = await rediacc(
      [
        'create',
        'task',
        '--machine',
        'local',
        '--command',
        'true',
        '--idempotency-key',
        'cli-1',
        '-o',
        'json',
      ],
      { env },
    );
    expect(JSON.parse(b.stdout).taskId).toBe(JSON.parse(a.stdout).taskId);
  });
});
