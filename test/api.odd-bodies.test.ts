import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody, rawRequest } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// No embedded bridge: the tests play the bridge themselves where needed.
let t: TestServer;
let bridgeToken: string;
beforeAll(async () => {
  t = await startTestServer({ bridge: false });
  const reg = await t.api('POST', '/bridges', { name: 'odd-bridge' });
  expect(reg.status).toBe(201);
  bridgeToken = reg.body.token;
});
afterAll(async () => {
  await t.close();
});

const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const deepArray = (n: number) => `{"tasks":${'['.repeat(n)}${']'.repeat(n)}}`;

/** Bodies no client should send; none of them may produce a 5xx. */
const ODD_BODIES: [string, string][] = [
  ['empty array', '[]'],
  ['array of tasks', '[{"machine":"local","command":"x"}]'],
  ['number', '42'],
  ['negative float', '-1.5e3'],
  ['null', 'null'],
  ['true', 'true'],
  ['string', '"echo hi"'],
  ['empty object', '{}'],
  ['huge command', JSON.stringify({ machine: 'local', command: 'x'.repeat(1024 * 1024) })],
  [
    'huge unknown field',
    JSON.stringify({ machine: 'local', command: 'x', junk: 'y'.repeat(3 * 1024 * 1024) }),
  ],
  ['huge machine name', JSON.stringify({ machine: 'm'.repeat(100_000), command: 'x' })],
  ['huge key', JSON.stringify({ ['k'.repeat(100_000)]: 1 })],
  ['deeply nested object', deep(50_000)],
  ['deeply nested tasks', deepArray(50_000)],
  ['__proto__', '{"__proto__":{"isAdmin":true},"machine":"local","command":"x"}'],
  ['constructor.prototype', '{"constructor":{"prototype":{"x":1}},"machine":"local","command":"x"}'],
  ['tasks null', '{"tasks":null}'],
  ['tasks of null', '{"tasks":[null]}'],
  ['tasks of arrays', '{"tasks":[[]]}'],
  ['tasks text', '{"tasks":"all"}'],
  ['tasks object', '{"tasks":{"0":{"machine":"local","command":"x"}}}'],
  ['nulls', '{"machine":null,"command":null}'],
  ['operator objects', '{"machine":{"$ne":""},"command":"x"}'],
  ['priority object', '{"machine":"local","command":"x","priority":{"$gt":0}}'],
  ['infinite timeout', '{"machine":"local","command":"x","timeout":1e400}'],
  ['env null', '{"machine":"local","command":"x","env":null}'],
  ['env array', '{"machine":"local","command":"x","env":["A=1"]}'],
  ['machines of null', '{"machines":[null],"command":"x"}'],
  ['machines nested', '{"machines":[["local"]],"command":"x"}'],
  ['retryCount huge', '{"machine":"local","command":"x","retryCount":1e300}'],
  [
    'too many tasks',
    JSON.stringify({ tasks: Array.from({ length: 10_001 }, () => ({ machine: 'local', command: 'x' })) }),
  ],
];

describe('odd bodies never yield a 5xx', () => {
  const routes: [string, string][] = [
    ['POST', '/api/v1/tasks'],
    ['POST', '/api/v1/machines'],
    ['PATCH', '/api/v1/machines/local'],
    ['POST', '/api/v1/teams'],
    ['POST', '/api/v1/regions'],
    ['POST', '/api/v1/bridges'],
  ];
  for (const [method, path] of routes) {
    it.each(ODD_BODIES)(`${method} ${path} with %s is a 4xx error body`, async (_name, body) => {
      const res = await rawRequest(t.url, method, path, { body });
      expect(res.status, res.text.slice(0, 300)).toBeGreaterThanOrEqual(400);
      expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
      expectErrorBody(res, res.status, (res.body as { error: { code: string } }).error.code);
    });
  }

  it.each(ODD_BODIES)('bridge report with %s is a 4xx error body', async (_name, body) => {
    const res = await rawRequest(t.url, 'POST', '/api/v1/bridge/report', {
      body,
      authorization: `Bearer ${bridgeToken}`,
    });
    // Some bodies ({} for instance) are valid reports; none may fail the server.
    expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
    if (res.status >= 400)
      expectErrorBody(res, res.status, (res.body as { error: { code: string } }).error.code);
  });

  it('odd content types are refused without a 5xx', async () => {
    for (const contentType of ['multipart/form-data; boundary=x', 'application/octet-stream', 'text/html']) {
      const res = await rawRequest(t.url, 'POST', '/api/v1/tasks', {
        body: '{"machine":"local","command":"x"}',
        contentType,
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  it('the odd requests created nothing', async () => {
    const tasks = await t.api('GET', '/tasks?limit=1000');
    expect(tasks.body).toEqual([]);
  });
});

describe('bridge protocol input', () => {
  it('reports about unknown tasks are ignored, and their attempts cancelled', async () => {
    const ghost = { taskId: 'ghost', attempt: 1 };
    const res = await t.api(
      'POST',
      '/bridge/report',
      {
        started: [{ ...ghost, at: 1 }],
        output: [{ ...ghost, chunk: 0, stream: 'stdout', at: 1, data: 'x' }],
        results: [{ ...ghost, at: 1, exitCode: 0, signal: null, reason: null }],
        running: [ghost],
      },
      bridgeToken,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ cancel: [ghost] });
  });

  it('a reason the bridge may not claim is refused', async () => {
    const res = await t.api(
      'POST',
      '/bridge/report',
      { results: [{ taskId: 'x', attempt: 1, at: 1, exitCode: 0, signal: null, reason: 'CANCELLED' }] },
      bridgeToken,
    );
    expectErrorBody(res, 400, 'VALIDATION_FAILED');
  });

  it('an absurd timestamp from a bridge does not break reading tasks', async () => {
    const created = await t.api('POST', '/tasks', { machine: 'local', command: 'echo x' });
    expect(created.status).toBe(201);
    const id = created.body.taskId as string;
    const claim = await t.api('POST', '/bridge/claim', { max: 10 }, bridgeToken);
    expect(claim.body.tasks.map((a: { taskId: string }) => a.taskId)).toContain(id);
    const far = 1e300; // a number >= 0, as the schema asks, but no date
    const rep = await t.api(
      'POST',
      '/bridge/report',
      {
        started: [{ taskId: id, attempt: 1, at: far }],
        output: [{ taskId: id, attempt: 1, chunk: 0, stream: 'stdout', at: far, data: 'x\n' }],
        results: [{ taskId: id, attempt: 1, at: far, exitCode: 0, signal: null, reason: null }],
      },
      bridgeToken,
    );
    // Either the report is refused, or what it stored can still be read.
    expect(rep.status).toBeLessThan(500);
    const statuses: Record<string, number> = {};
    for (const path of [`/tasks/${id}`, '/tasks', `/tasks/${id}/logs`])
      statuses[path] = (await t.api('GET', path)).status;
    expect(
      Object.values(statuses).every((s) => s < 500),
      JSON.stringify(statuses),
    ).toBe(true);
  });
});
