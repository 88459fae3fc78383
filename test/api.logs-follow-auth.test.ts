import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { PASSWORD, userWithRoles } from './helpers/teams.js';

// A followed task's output (GET /tasks/{id}/logs?follow=1) checks its caller
// again every 10 s, not only when it opens: a revoked token, a logged-out
// session or a lost membership ends the stream although the task runs on.

interface Stream {
  text(): string;
  /** Whether the server ended the stream. */
  ended(): boolean;
  close(): void;
}

describe('a followed log stream and its caller', () => {
  let t: TestServer;
  let taskId: string;

  const open = async (headers: Record<string, string>): Promise<Stream> => {
    const abort = new AbortController();
    const res = await fetch(`${t.url}/api/v1/tasks/${taskId}/logs?follow=1`, {
      headers,
      signal: abort.signal,
    });
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
    await waitFor(async () => (text.includes('event: status') ? true : undefined));
    return { text: () => text, ended: () => ended, close: () => abort.abort() };
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    // No bridge: the task waits for ever, so only the caller can end its stream.
    t = await startTestServer({ bridge: false });
    expect((await t.api('POST', '/machines', { name: 'f-1' })).status).toBe(201);
    const created = await t.api('POST', '/tasks', { machine: 'f-1', command: 'sleep 600' });
    expect(created.status).toBe(201);
    taskId = created.body.taskId;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('ends for a revoked token, a logged-out session and a removed member; stays for the others', async () => {
    const stays = await userWithRoles(t, 'stays@example.com', { default: 'viewer' });
    const revoked = await userWithRoles(t, 'revoked@example.com', { default: 'viewer' });
    // Still a member of another team: it keeps task:read, only this task's team is gone.
    expect((await t.api('POST', '/teams', { name: 'other' })).status).toBe(201);
    await userWithRoles(t, 'leaver@example.com', { default: 'viewer', other: 'viewer' });
    const leaver = (
      await t.api('POST', '/auth/login', { email: 'leaver@example.com', password: PASSWORD }, '')
    ).body.token as string;
    const login = await fetch(`${t.url}/api/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'stays@example.com', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    const { csrfToken } = (await login.json()) as { csrfToken: string };

    // Opened first, so each has been checked again before the ones opened later.
    const keeps = await open(bearer(stays));
    const byRevoked = await open(bearer(revoked));
    const bySession = await open({ cookie });
    const byLeaver = await open(bearer(leaver));

    const mine = (await t.api('GET', '/tokens', undefined, revoked)).body as { id: number; name: string }[];
    expect(mine).toHaveLength(1);
    expect((await t.api('DELETE', `/tokens/${mine[0]?.id}`, undefined, revoked)).status).toBe(204);
    const out = await fetch(`${t.url}/api/v1/auth/session`, {
      method: 'DELETE',
      headers: { cookie, 'x-csrf-token': csrfToken },
    });
    expect(out.status).toBe(204);
    expect((await t.api('DELETE', '/teams/default/members/leaver@example.com')).status).toBe(204);

    await waitFor(
      async () => (byRevoked.ended() && bySession.ended() && byLeaver.ended() ? true : undefined),
      25_000,
      200,
    );
    for (const s of [byRevoked, bySession, byLeaver]) expect(s.text()).not.toContain('event: end');
    expect(keeps.ended()).toBe(false);
    // Asking again is refused.
    const again = await fetch(`${t.url}/api/v1/tasks/${taskId}/logs?follow=1`, { headers: bearer(revoked) });
    expect(again.status).toBe(401);
    const hidden = await fetch(`${t.url}/api/v1/tasks/${taskId}/logs?follow=1`, { headers: bearer(leaver) });
    expect(hidden.status).toBe(404);
    keeps.close();
  }, 45_000);
});
