import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { PASSWORD, teamWithObjects, userWithRoles } from './helpers/teams.js';

// Dashboard sessions: a cookie that goes through the same permission checks as
// a bearer token, with a CSRF header for every change, audited and revocable.

interface Call {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  body: any;
  setCookie: string | null;
  headers: Headers;
}

describe('dashboard sessions', () => {
  let t: TestServer;
  let ctx: Awaited<ReturnType<typeof teamWithObjects>>;

  const call = async (
    method: string,
    path: string,
    o: { body?: unknown; cookie?: string; csrf?: string; headers?: Record<string, string> } = {},
  ): Promise<Call> => {
    const res = await fetch(`${t.url}/api/v1${path}`, {
      method,
      headers: {
        ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(o.cookie === undefined ? {} : { cookie: o.cookie }),
        ...(o.csrf === undefined ? {} : { 'x-csrf-token': o.csrf }),
        ...o.headers,
      },
      ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text === '' ? null : JSON.parse(text),
      setCookie: res.headers.get('set-cookie'),
      headers: res.headers,
    };
  };
  const login = async (body: unknown, headers: Record<string, string> = {}) => {
    const r = await call('POST', '/auth/session', { body, headers });
    const cookie = r.setCookie?.split(';')[0] ?? '';
    return { ...r, cookie, csrf: r.body?.csrfToken as string };
  };

  beforeAll(async () => {
    t = await startTestServer({ bridge: false });
    ctx = await teamWithObjects(t, 'alpha');
    await userWithRoles(t, 'op@example.com', { alpha: 'operator' });
    await userWithRoles(t, 'viewer@example.com', { alpha: 'viewer' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('logs in with email and password: an HttpOnly, SameSite=Strict cookie and a CSRF token', async () => {
    const r = await login({ email: 'op@example.com', password: PASSWORD });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      email: 'op@example.com',
      admin: false,
      via: 'session',
      teams: [{ team: 'alpha', role: 'operator' }],
    });
    expect(r.setCookie).toMatch(
      /^rediacc_session=rds_[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    expect(r.csrf).toMatch(/^[\w-]{43}$/);
    const me = await call('GET', '/auth/session', { cookie: r.cookie });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: 'op@example.com', via: 'session', csrfToken: r.csrf });
  });

  it('marks the cookie Secure behind https', async () => {
    const r = await login({ email: 'op@example.com', password: PASSWORD }, { 'x-forwarded-proto': 'https' });
    expect(r.setCookie).toMatch(/; Secure$/);
  });

  it('needs the CSRF header for changes, and applies the role like a token does', async () => {
    const op = await login({ email: 'op@example.com', password: PASSWORD });
    const task = { machine: ctx.machine, command: 'echo from-session' };
    const noCsrf = await call('POST', '/tasks', { body: task, cookie: op.cookie });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error.code).toBe('CSRF_FAILED');
    const wrong = await call('POST', '/tasks', { body: task, cookie: op.cookie, csrf: 'x'.repeat(43) });
    expect(wrong.body.error.code).toBe('CSRF_FAILED');
    const ok = await call('POST', '/tasks', { body: task, cookie: op.cookie, csrf: op.csrf });
    expect(ok.status).toBe(201);
    expect(ok.body.createdBy).toBe('op@example.com');
    // Reading needs no CSRF header.
    expect((await call('GET', `/tasks/${ok.body.taskId}`, { cookie: op.cookie })).status).toBe(200);

    const viewer = await login({ email: 'viewer@example.com', password: PASSWORD });
    const refused = await call('POST', '/tasks', { body: task, cookie: viewer.cookie, csrf: viewer.csrf });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    const cancel = await call('POST', `/tasks/${ok.body.taskId}/cancel`, {
      body: {},
      cookie: viewer.cookie,
      csrf: viewer.csrf,
    });
    expect(cancel.status).toBe(403);
    // Another user's session CSRF token does not fit this session.
    const mixed = await call('POST', '/tasks', { body: task, cookie: op.cookie, csrf: viewer.csrf });
    expect(mixed.body.error.code).toBe('CSRF_FAILED');
  });

  it('logs out: the cookie stops working and is cleared; login and logout are audited', async () => {
    const r = await login({ email: 'op@example.com', password: PASSWORD });
    const noCsrf = await call('DELETE', '/auth/session', { cookie: r.cookie });
    expect(noCsrf.status).toBe(403);
    const out = await call('DELETE', '/auth/session', { cookie: r.cookie, csrf: r.csrf });
    expect(out.status).toBe(204);
    expect(out.setCookie).toMatch(/^rediacc_session=; .*Max-Age=0/);
    const after = await call('GET', '/auth/session', { cookie: r.cookie });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('SESSION_EXPIRED');
    const audit = await waitFor(async () => {
      const rows = (await t.api('GET', '/audit?limit=1000')).body as {
        action: string;
        actor: string;
        outcome: string;
      }[];
      const mine = rows.filter((x) => x.actor === 'op@example.com');
      return mine.some((x) => x.action === 'auth.session.delete') ? mine : undefined;
    });
    expect(audit.some((x) => x.action === 'auth.session.create' && x.outcome === 'ok')).toBe(true);
    expect(audit.some((x) => x.action === 'auth.session.delete' && x.outcome === 'ok')).toBe(true);
    expect(audit.some((x) => x.outcome === 'denied')).toBe(true); // the change without CSRF header
  });

  it('refuses wrong passwords (audited) and shares the rate limit with /auth/login', async () => {
    await userWithRoles(t, 'limited@example.com', { alpha: 'viewer' });
    for (let i = 0; i < 3; i += 1) {
      const r = await login({ email: 'limited@example.com', password: 'wrong' });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('LOGIN_FAILED');
      expect(r.setCookie).toBeNull();
    }
    for (let i = 0; i < 2; i += 1) {
      await t.api('POST', '/auth/login', { email: 'limited@example.com', password: 'wrong' }, '');
    }
    const limited = await login({ email: 'limited@example.com', password: PASSWORD });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('LOGIN_RATE_LIMITED');
    const failed = await waitFor(async () => {
      const rows = (await t.api('GET', '/audit?limit=1000')).body as {
        action: string;
        actor: string;
        outcome: string;
      }[];
      const f = rows.filter((x) => x.actor === 'limited@example.com' && x.action === 'auth.session.create');
      return f.length >= 4 ? f : undefined;
    });
    expect(failed.filter((x) => x.outcome === 'failed')).toHaveLength(3);
  });

  it('opens a session with an API token, which ends when the token is revoked', async () => {
    const made = await call('POST', '/tokens', {
      body: { name: 'for-dashboard' },
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const r = await login({ token: made.body.token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ email: 'admin@localhost', admin: true, via: 'session' });
    expect((await call('GET', '/users', { cookie: r.cookie })).status).toBe(200);
    await call('DELETE', '/tokens/for-dashboard', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect((await call('GET', '/users', { cookie: r.cookie })).status).toBe(401);

    expect((await login({ token: 'rdc_nope' })).status).toBe(401);
    expect((await login({ token: made.body.token, email: 'a@b' })).status).toBe(400);
    expect((await login({})).status).toBe(400);
    expect((await login({ email: 'a@b' })).body.error.field).toBe('password');
  });

  it('ends the sessions of a disabled user', async () => {
    await userWithRoles(t, 'leaver@example.com', { alpha: 'operator' });
    const r = await login({ email: 'leaver@example.com', password: PASSWORD });
    expect((await call('GET', '/tasks', { cookie: r.cookie })).status).toBe(200);
    await t.api('PATCH', '/users/leaver@example.com', { disabled: true });
    expect((await call('GET', '/tasks', { cookie: r.cookie })).status).toBe(401);
  });

  it('lets a bearer token win over a cookie, and a bearer DELETE /auth/session ends nothing', async () => {
    const r = await login({ email: 'viewer@example.com', password: PASSWORD });
    const asAdmin = await call('GET', '/users', {
      cookie: r.cookie,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(asAdmin.status).toBe(200);
    const me = await call('GET', '/auth/session', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(me.body).toMatchObject({ email: 'admin@localhost', via: 'token', csrfToken: null });
    const out = await call('DELETE', '/auth/session', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(out.status).toBe(204);
    expect((await call('GET', '/auth/session', { cookie: r.cookie })).status).toBe(200);
  });
});
