import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody, rawRequest } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// No bridge: whatever a request creates stays visible in the queue.
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ bridge: false });
});
afterAll(async () => {
  await t.close();
});

const ok = { machine: 'local', command: 'echo hi' };

/** Task count and queue counters, to prove a refused request created nothing. */
async function snapshot() {
  const tasks = await t.api('GET', '/tasks?limit=1000');
  expect(tasks.status).toBe(200);
  const stats = await t.api('GET', '/queue/stats');
  expect(stats.status).toBe(200);
  const { oldestPendingAgeMs: _age, ...counters } = stats.body;
  return { count: tasks.body.length as number, counters };
}

describe('POST /tasks: single task', () => {
  it.each([0, 6, -1, 1.5, 'urgent', '0', '6', '', true, null, [], {}])(
    'rejects priority %j',
    async (priority) => {
      const before = await snapshot();
      const res = await t.api('POST', '/tasks', { ...ok, priority });
      expectErrorBody(res, 400, 'VALIDATION_FAILED', 'priority');
      expect(await snapshot()).toEqual(before);
    },
  );

  it('accepts priority as number, digit text or label', async () => {
    for (const [priority, expected] of [
      [1, 1],
      ['2', 2],
      ['background', 4],
      ['low', 5],
    ] as const) {
      const res = await t.api('POST', '/tasks', { ...ok, priority });
      expect(res.status).toBe(201);
      expect(res.body.priority).toBe(expected);
      expect((await t.api('POST', `/tasks/${res.body.taskId}/cancel`)).status).toBe(200);
    }
  });

  it('rejects an unknown machine with 404 MACHINE_NOT_FOUND naming the field', async () => {
    const before = await snapshot();
    expectErrorBody(
      await t.api('POST', '/tasks', { ...ok, machine: 'nope' }),
      404,
      'MACHINE_NOT_FOUND',
      'machine',
    );
    expectErrorBody(
      await t.api('POST', '/tasks', { machines: ['local', 'nope'], command: 'x' }),
      404,
      'MACHINE_NOT_FOUND',
      'machines',
    );
    expectErrorBody(
      await t.api('POST', '/tasks', { ...ok, team: 'other-team' }),
      404,
      'MACHINE_NOT_FOUND',
      'machine',
    );
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['empty command', { machine: 'local', command: '' }, 'command'],
    ['blank command', { machine: 'local', command: '  \t ' }, 'command'],
    ['missing command', { machine: 'local' }, 'command'],
    ['missing machine', { command: 'x' }, 'machine'],
    ['machine and machines', { machine: 'local', machines: ['local'], command: 'x' }, 'machine'],
    ['empty machines', { machines: [], command: 'x' }, 'machines'],
    ['a machine twice', { machines: ['local', 'local'], command: 'x' }, 'machines'],
    ['negative retryCount', { ...ok, retryCount: -1 }, 'retryCount'],
    ['fractional retryCount', { ...ok, retryCount: 1.5 }, 'retryCount'],
    ['huge retryCount', { ...ok, retryCount: 101 }, 'retryCount'],
    ['negative retryDelay', { ...ok, retryDelay: -1 }, 'retryDelay'],
    ['text retryDelay', { ...ok, retryDelay: '5' }, 'retryDelay'],
    ['zero timeout', { ...ok, timeout: 0 }, 'timeout'],
    ['unknown backoff', { ...ok, backoff: 'linear' }, 'backoff'],
    ['unknown failureAction', { ...ok, failureAction: 'page' }, 'failureAction'],
    ['bad env name', { ...ok, env: { '1BAD': 'x' } }, 'env.1BAD'],
    ['env name with garbage value', { ...ok, env: { 'A-B': { nested: [1] } } }, 'env.A-B'],
    ['non-text env value', { ...ok, env: { GOOD: 1 } }, 'env.GOOD'],
    ['bad machine name', { ...ok, machine: '../etc' }, 'machine'],
  ])('rejects %s', async (_name, body, field) => {
    const before = await snapshot();
    expectErrorBody(await t.api('POST', '/tasks', body), 400, 'VALIDATION_FAILED', field);
    expect(await snapshot()).toEqual(before);
  });

  it('rejects unknown fields, naming them', async () => {
    const err = expectErrorBody(
      await t.api('POST', '/tasks', { ...ok, colour: 'red' }),
      400,
      'VALIDATION_FAILED',
      'colour',
    );
    expect(err.message).toContain("unknown field 'colour'");
    expectErrorBody(
      await t.api('POST', '/tasks', { tasks: [{ ...ok }, { ...ok, prio: 1 }] }),
      400,
      'VALIDATION_FAILED',
      'tasks[1].prio',
    );
  });

  it('rejects malformed JSON with INVALID_JSON', async () => {
    for (const body of ['{', '{"machine": "local",}', "{'a':1}", 'nope', '{"a":1}{"b":2}']) {
      expectErrorBody(await rawRequest(t.url, 'POST', '/api/v1/tasks', { body }), 400, 'INVALID_JSON');
    }
  });

  it('rejects an empty JSON body, plain text and unknown content types', async () => {
    expectErrorBody(await rawRequest(t.url, 'POST', '/api/v1/tasks', { body: '' }), 400, 'INVALID_JSON');
    const text = await rawRequest(t.url, 'POST', '/api/v1/tasks', {
      body: 'machine=local',
      contentType: 'text/plain',
    });
    expectErrorBody(text, 400, 'VALIDATION_FAILED');
    expectErrorBody(
      await rawRequest(t.url, 'POST', '/api/v1/tasks', { body: '<task/>', contentType: 'application/xml' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });
});

describe('POST /tasks: batches', () => {
  const five = () => [1, 2, 3, 4, 5].map((i) => ({ machine: 'local', command: `echo ${i}` }));

  it('a bad priority in entry 3 names tasks[3].priority and creates nothing', async () => {
    const before = await snapshot();
    const tasks = five();
    tasks[3] = { ...tasks[3], priority: 9 } as (typeof tasks)[number];
    expectErrorBody(await t.api('POST', '/tasks', { tasks }), 400, 'VALIDATION_FAILED', 'tasks[3].priority');
    expect(await snapshot()).toEqual(before);
  });

  it('an unknown machine in entry 3 names tasks[3].machine and creates nothing', async () => {
    const before = await snapshot();
    const tasks = five();
    tasks[3] = { machine: 'ghost', command: 'x' };
    expectErrorBody(await t.api('POST', '/tasks', { tasks }), 404, 'MACHINE_NOT_FOUND', 'tasks[3].machine');
    expect(await snapshot()).toEqual(before);
  });

  it('a blank command in entry 3 names tasks[3].command and creates nothing', async () => {
    const before = await snapshot();
    const tasks = five();
    tasks[3] = { machine: 'local', command: '   ' };
    expectErrorBody(await t.api('POST', '/tasks', { tasks }), 400, 'VALIDATION_FAILED', 'tasks[3].command');
    expect(await snapshot()).toEqual(before);
  });

  it('names the index even in a batch of one', async () => {
    const before = await snapshot();
    expectErrorBody(
      await t.api('POST', '/tasks', { tasks: [{ machine: 'ghost', command: 'x' }] }),
      404,
      'MACHINE_NOT_FOUND',
      'tasks[0].machine',
    );
    expectErrorBody(
      await t.api('POST', '/tasks', { tasks: [{ machine: 'local', command: ' ' }] }),
      400,
      'VALIDATION_FAILED',
      'tasks[0].command',
    );
    expect(await snapshot()).toEqual(before);
  });

  it('refuses "tasks" together with single-task fields', async () => {
    const before = await snapshot();
    const err = expectErrorBody(
      await t.api('POST', '/tasks', { tasks: five(), command: 'echo also' }),
      400,
      'VALIDATION_FAILED',
      'command',
    );
    expect(err.message).toContain('either');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses an empty batch', async () => {
    expectErrorBody(await t.api('POST', '/tasks', { tasks: [] }), 400, 'VALIDATION_FAILED', 'tasks');
  });

  it('a good batch creates every task at once', async () => {
    const before = await snapshot();
    const res = await t.api('POST', '/tasks', { tasks: five() });
    expect(res.status).toBe(201);
    expect(res.body.count).toBe(5);
    const after = await snapshot();
    expect(after.count).toBe(before.count + 5);
    expect(after.counters.pending['3']).toBe(before.counters.pending['3'] + 5);
    for (const id of res.body.taskIds) expect((await t.api('POST', `/tasks/${id}/cancel`)).status).toBe(200);
  });
});

describe('task paths and queries', () => {
  it.each([
    ['GET', '/tasks/not-a-uuid'],
    ['GET', '/tasks/123/logs'],
    ['POST', '/tasks/zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz/cancel'],
    ['POST', '/tasks/1234/retry'],
    ['GET', '/batches/xyz'],
  ])('%s %s with a bad UUID is 400', async (method, path) => {
    expectErrorBody(await t.api(method, path), 400, 'VALIDATION_FAILED', 'id');
  });

  it('an unknown task id is 404 TASK_NOT_FOUND', async () => {
    const id = '0b7c6f5e-1d2a-4c3b-9e8f-7a6b5c4d3e2f';
    expectErrorBody(await t.api('GET', `/tasks/${id}`), 404, 'TASK_NOT_FOUND');
    expectErrorBody(await t.api('POST', `/tasks/${id}/cancel`), 404, 'TASK_NOT_FOUND');
    expectErrorBody(await t.api('GET', `/tasks/${id}/logs`), 404, 'TASK_NOT_FOUND');
    expectErrorBody(await t.api('GET', `/batches/${id}`), 404, 'BATCH_NOT_FOUND');
  });

  it.each([
    '/tasks?status=bogus',
    '/tasks?priority=urgent',
    '/tasks?limit=-1',
    '/tasks?limit=abc',
    '/tasks?before=1e5',
    '/tasks?color=red',
    '/alerts?limit=x',
  ])('GET %s is 400', async (path) => {
    expectErrorBody(await t.api('GET', path), 400, 'VALIDATION_FAILED');
  });
});
