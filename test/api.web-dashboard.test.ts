import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installErrorHandling } from '../src/server/errors.js';
import { registerDashboard, WEB_DIR } from '../src/server/web/static.js';
import { requireDashboardBuild } from './helpers/browser.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { teamWithObjects, userWithRoles } from './helpers/teams.js';

type ErrorBody = { error: { code: string } };

// The server side of the dashboard: its files at / (index.html for the app's
// own paths, the API's 404s untouched), and the endpoints only it needs.

describe('dashboard serving and endpoints', () => {
  let t: TestServer;
  let outsider: string;

  beforeAll(async () => {
    requireDashboardBuild();
    t = await startTestServer({});
    await teamWithObjects(t, 'other');
    outsider = await userWithRoles(t, 'outsider@example.com', { other: 'viewer' });
    await t.api('POST', '/regions', { name: 'unserved' });
    await t.api('POST', '/machines', { name: 'idle', region: 'unserved', concurrency: 1 });
  });
  afterAll(async () => {
    await t.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${t.url}${path}`, { headers });

  it('serves the app at / and at its own paths, with a strict content security policy', async () => {
    for (const path of [
      '/',
      '/tasks',
      '/tasks/01a22511-7421-7b5e-9a7d-855f9471e30a',
      '/machines?x=1',
      '/a%2Fb',
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain('<div id="root"></div>');
    }
  });

  it('serves hashed assets for good, compressed when the browser accepts it, and 404s the rest', async () => {
    const entry = readdirSync(join(WEB_DIR, 'assets')).find((f) => /^index-.*\.js$/.test(f)) as string;
    const plain = await get(`/assets/${entry}`, { 'accept-encoding': 'identity' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toMatch(/javascript/);
    expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const br = await fetch(`${t.url}/assets/${entry}`, { headers: { 'accept-encoding': 'br' } });
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(await br.text()).toBe(await plain.text());

    const missing = await get('/assets/nope-123.js');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.code).toBe('ROUTE_NOT_FOUND');
    expect((await get('/favicon.svg')).headers.get('content-type')).toMatch(/^image\/svg\+xml/);
  });

  it('leaves the API its JSON 404s, and answers no 5xx to odd requests', async () => {
    for (const path of ['/api/v1/nope', '/api/v1', '/api/other', '/api/v1/%2e%2e/x']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe('ROUTE_NOT_FOUND');
    }
    const malformed = await get('/%E0%A4%A');
    expect(malformed.status).toBe(400);
    const post = await fetch(`${t.url}/tasks`, { method: 'POST' });
    expect(post.status).toBe(404);
    const head = await fetch(`${t.url}/machines`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('says how to build the dashboard when it is not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'rediacc-noweb-'));
    const app = Fastify();
    installErrorHandling(app);
    await registerDashboard(app, '/api/v1', empty);
    const res = await app.inject({ url: '/tasks' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('npm run build');
    await app.close();
    rmSync(empty, { recursive: true, force: true });
  });

  it('counts failures of the last hours for the teams the caller sees', async () => {
    const before = (await t.api('GET', '/queue/failures')).body.failed as number;
    const made = await t.api('POST', '/tasks', { machine: 'local', command: 'exit 4' });
    await waitFor(async () =>
      (await t.api('GET', `/tasks/${made.body.taskId}`)).body.status === 'failed' ? true : undefined,
    );
    const after = await t.api('GET', '/queue/failures?hours=1');
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ hours: 1, failed: before + 1 });
    expect(after.body.teams).toContainEqual({ team: 'default', failed: before + 1 });
    const theirs = await t.api('GET', '/queue/failures', undefined, outsider);
    expect(theirs.body).toMatchObject({ failed: 0, teams: [] });
    for (const bad of ['0', '169', 'x', '1000']) {
      const r = await t.api('GET', `/queue/failures?hours=${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('explains why a task waits: no bridge for its region, the tasks ahead, or nothing once it runs', async () => {
    const first = (await t.api('POST', '/tasks', { machine: 'idle', command: 'true' })).body.taskId;
    const second = (await t.api('POST', '/tasks', { machine: 'idle', command: 'true' })).body.taskId;
    const w1 = await t.api('GET', `/tasks/${first}/wait`);
    expect(w1.status).toBe(200);
    expect(w1.body).toMatchObject({ status: 'pending', waiting: true, ahead: 0 });
    expect(w1.body.reasons.map((r: { code: string }) => r.code)).toContain('NO_BRIDGE');
    const w2 = await t.api('GET', `/tasks/${second}/wait`);
    expect(w2.body.ahead).toBe(1);
    expect(w2.body.reasons).toContainEqual({
      code: 'QUEUE_AHEAD',
      text: '1 waiting task on idle goes first (higher priority or queued earlier)',
    });
    const hidden = await t.api('GET', `/tasks/${first}/wait`, undefined, outsider);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.code).toBe('TASK_NOT_FOUND');

    const done = (await t.api('POST', '/tasks', { machine: 'local', command: 'true' })).body.taskId;
    await waitFor(async () =>
      (await t.api('GET', `/tasks/${done}`)).body.status === 'completed' ? true : undefined,
    );
    expect((await t.api('GET', `/tasks/${done}/wait`)).body).toMatchObject({
      waiting: false,
      ahead: null,
      reasons: [],
    });
    for (const id of [first, second]) await t.api('POST', `/tasks/${id}/cancel`, {});
  });

  it('streams queue counts and change hints, each caller only their own teams', async () => {
    const events: { event: string; data: unknown }[] = [];
    const abort = new AbortController();
    const res = await fetch(`${t.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: abort.signal,
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let buffer = '';
    const pump = (async () => {
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
          end = buffer.indexOf('\n\n');
        }
      }
    })();
    await waitFor(async () => (events.some((e) => e.event === 'queue') ? true : undefined));
    const first = events.find((e) => e.event === 'queue')?.data as {
      stats: { pending: Record<string, number> };
    };
    expect(first.stats.pending).toHaveProperty('3');
    const seen = events.length;
    const id = (await t.api('POST', '/tasks', { machine: 'idle', command: 'true', priority: 2 })).body.taskId;
    await waitFor(
      async () => (events.slice(seen).some((e) => e.event === 'tasks') ? true : undefined),
      5_000,
    );
    const later = await waitFor(async () => {
      const q = events.slice(seen).find((e) => e.event === 'queue') as
        | { data: { stats: { pending: Record<string, number> } } }
        | undefined;
      return q?.data.stats;
    }, 5_000);
    expect(later.pending['2']).toBe((first.stats.pending['2'] ?? 0) + 1);
    abort.abort();
    await pump;
    await t.api('POST', `/tasks/${id}/cancel`, {});

    // An outsider's stream counts only their team's tasks.
    const theirs = await fetch(`${t.url}/api/v1/events`, {
      headers: { authorization: `Bearer ${outsider}` },
    });
    const theirReader = (theirs.body as ReadableStream<Uint8Array>).getReader();
    const chunk = await theirReader.read();
    const text = new TextDecoder().decode(chunk.value);
    const stats = JSON.parse(
      /^data: (.*)$/m.exec(text.slice(text.indexOf('event: queue')))?.[1] ?? '{}',
    ).stats;
    expect(stats.busiestMachines.every((m: { team: string }) => m.team === 'other')).toBe(true);
    await theirReader.cancel();
  });

  it('filters the task list by text, and pages it by seq', async () => {
    const tag = `needle-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      ids.push(
        (await t.api('POST', '/tasks', { machine: 'idle', command: `echo ${tag.toUpperCase()} ${i}` })).body
          .taskId,
      );
    }
    const page1 = await t.api('GET', `/tasks?q=${tag}&limit=2`);
    expect(page1.body.map((x: { taskId: string }) => x.taskId)).toEqual([ids[2], ids[1]]);
    const page2 = await t.api('GET', `/tasks?q=${tag}&limit=2&before=${page1.body[1].seq}`);
    expect(page2.body.map((x: { taskId: string }) => x.taskId)).toEqual([ids[0]]);
    expect((await t.api('GET', `/tasks?q=${tag}`, undefined, outsider)).body).toEqual([]);
    expect((await t.api('GET', `/tasks?q=`)).status).toBe(400);
    expect((await t.api('GET', `/tasks?q=${'x'.repeat(201)}`)).status).toBe(400);
    for (const id of ids) await t.api('POST', `/tasks/${id}/cancel`, {});
  });
});
