import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

// Default lease (30 s): a task the bridge silently drops would only end, as LOST, after it.
let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

/**
 * A NUL byte is valid JSON but no process can get it as an argument or in its
 * environment. Such a task must be refused up front (400) or fail on its own
 * (SPAWN_FAILED) — and it must never take down the tasks claimed with it.
 */
describe('commands the OS cannot run', () => {
  it.each([
    ['a NUL in the command', { command: 'echo a\u0000b' }],
    ['a NUL in an env value', { command: 'echo $A', env: { A: 'x\u0000y' } }],
  ])('%s is refused or fails by itself, and its batch neighbour still runs', async (_name, bad) => {
    const res = await t.api('POST', '/tasks', {
      tasks: [
        { machine: 'local', ...bad },
        { machine: 'local', command: 'echo neighbour' },
      ],
    });
    if (res.status === 400) {
      expect(res.body.error.field).toMatch(/^tasks\[0\]\.(command|env)/);
      return;
    }
    expect(res.status).toBe(201);
    const [badId, goodId] = res.body.taskIds as [string, string];
    // Both must end well before the 30 s lease would run out.
    const ended = async () => {
      const [b, g] = await Promise.all(
        [badId, goodId].map(async (id) => (await t.api('GET', `/tasks/${id}`)).body),
      );
      return { bad: `${b.status}/${b.reason}`, good: `${g.status}/${g.reason}` };
    };
    let seen = await ended();
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(seen.bad.startsWith('failed') && seen.good.startsWith('completed'))) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await ended();
    }
    expect(seen).toEqual({ bad: 'failed/SPAWN_FAILED', good: 'completed/null' });
  });
});
