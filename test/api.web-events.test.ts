import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { PASSWORD, userWithRoles } from './helpers/teams.js';

// The dashboard's change feed (GET /events) tells a caller about their own
// teams only, and stops when the session behind it ends or the caller leaves
// a team, not just when it is opened.

interface Stream {
  text(): string;
  /** Whether the server ended the stream. */
  ended(): boolean;
  close(): void;
}

describe('GET /events and other teams', () => {
  let t: TestServer;

  const session = async (email: string) => {
    const res = await fetch(`${t.url}/api/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
    return { cookie, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
  };

  const open = async (cookie: string): Promise<Stream> => {
    const abort = new AbortController();
    const res = await fetch(`${t.url}/api/v1/events`, { headers: { cookie }, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    let ended = false;
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
        ended = true;
      } catch {
        // Closed by the test.
      }
    })();
    await waitFor(async () => (text.includes('event: queue') ? true : undefined));
    return { text: () => text, ended: () => ended, close: () => abort.abort() };
  };

  const queueEvents = (s: Stream) =>
    s
      .text()
      .split('\n\n')
      .filter((e) => e.startsWith('event: queue'))
      .map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)) as { stats: { pendingTotal: number } });

  beforeAll(async () => {
    // No bridge: tasks stay pending, so the queue counts say what each caller sees.
    t = await startTestServer({ bridge: false });
    for (const team of ['alpha', 'beta']) {
      expect((await t.api('POST', '/teams', { name: team })).status).toBe(201);
      expect((await t.api('POST', '/machines', { name: `${team}-m`, team })).status).toBe(201);
    }
    await userWithRoles(t, 'a@example.com', { alpha: 'operator' });
    await userWithRoles(t, 'b@example.com', { beta: 'operator' });
    await userWithRoles(t, 'leaver@example.com', { alpha: 'viewer' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("says nothing about another team's tasks changing", async () => {
    const mine = await open((await session('a@example.com')).cookie);
    const theirs = await open((await session('b@example.com')).cookie);
    const before = theirs.text();
    for (let i = 0; i < 3; i += 1) {
      const created = await t.api('POST', '/tasks', { machine: 'alpha-m', command: 'true' });
      expect(created.status).toBe(201);
      expect((await t.api('POST', `/tasks/${created.body.taskId}/cancel`, {})).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1_200));
    }
    // The member of alpha is told; the member of beta hears keep-alives at most.
    await waitFor(async () => (mine.text().includes('event: tasks') ? true : undefined));
    expect(theirs.text().slice(before.length)).not.toContain('event:');
    mine.close();
    theirs.close();
  });

  it('ends when the session behind it is logged out', async () => {
    const s = await session('a@example.com');
    const stream = await open(s.cookie);
    const out = await fetch(`${t.url}/api/v1/auth/session`, {
      method: 'DELETE',
      headers: { cookie: s.cookie, 'x-csrf-token': s.csrf },
    });
    expect(out.status).toBe(204);
    await waitFor(async () => (stream.ended() ? true : undefined), 20_000, 200);
    // Reconnecting is refused.
    expect((await fetch(`${t.url}/api/v1/events`, { headers: { cookie: s.cookie } })).status).toBe(401);
  }, 30_000);

  it("stops counting a team's queue once the caller is removed from it", async () => {
    const created = await t.api('POST', '/tasks', { machine: 'alpha-m', command: 'true' });
    expect(created.status).toBe(201);
    const stream = await open((await session('leaver@example.com')).cookie);
    expect(queueEvents(stream).at(-1)?.stats.pendingTotal).toBeGreaterThan(0);
    expect((await t.api('DELETE', '/teams/alpha/members/leaver@example.com')).status).toBe(204);
    await waitFor(
      async () => (queueEvents(stream).at(-1)?.stats.pendingTotal === 0 ? true : undefined),
      20_000,
    );
    stream.close();
    await t.api('POST', `/tasks/${created.body.taskId}/cancel`, {});
  }, 30_000);
});
