import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAuth } from '../src/server/auth.js';
import { installErrorHandling } from '../src/server/errors.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { expectErrorBody, rawRequest } from './helpers/api.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ bridge: false });
});
afterAll(async () => {
  await t.close();
});

describe('bearer tokens', () => {
  it('a missing token is 401 UNAUTHENTICATED', async () => {
    for (const [method, path] of [
      ['GET', '/tasks'],
      ['POST', '/tasks'],
      ['GET', '/queue/stats'],
      ['GET', '/machines'],
      ['GET', '/alerts'],
    ]) {
      expectErrorBody(await t.api(method as string, path as string, undefined, ''), 401, 'UNAUTHENTICATED');
    }
  });

  it('an unknown token is 401 INVALID_TOKEN', async () => {
    expectErrorBody(await t.api('GET', '/tasks', undefined, 'rdc_not_a_real_token'), 401, 'INVALID_TOKEN');
  });

  it.each([
    'Basic dXNlcjpwYXNz',
    'Bearer',
    'Bearer ',
    'Bearer a b',
    'rdc_test_admin_token',
    'Token rdc_test_admin_token',
  ])('a malformed Authorization header %j is 401 UNAUTHENTICATED', async (authorization) => {
    expectErrorBody(
      await rawRequest(t.url, 'GET', '/api/v1/tasks', { authorization }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('auth is checked before the body: no token and a bad body is still 401', async () => {
    expectErrorBody(
      await rawRequest(t.url, 'POST', '/api/v1/tasks', { body: '{broken', authorization: null }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('the scheme name is case-insensitive', async () => {
    const res = await rawRequest(t.url, 'GET', '/api/v1/tasks', {
      authorization: 'bearer rdc_test_admin_token',
    });
    expect(res.status).toBe(200);
  });

  it('a user token may not speak the bridge protocol (403 FORBIDDEN)', async () => {
    expectErrorBody(await t.api('POST', '/bridge/claim', { max: 1 }), 403, 'FORBIDDEN');
    expectErrorBody(await t.api('POST', '/bridge/report', {}), 403, 'FORBIDDEN');
  });

  it('a bridge token may speak the bridge protocol but not use the user API', async () => {
    const reg = await t.api('POST', '/bridges', { name: 'auth-test-bridge' });
    expect(reg.status).toBe(201);
    const token = reg.body.token as string;
    expect(token).toMatch(/^rdb_/);
    const claim = await t.api('POST', '/bridge/claim', { max: 0 }, token);
    expect(claim.status).toBe(200);
    expect(claim.body).toMatchObject({ tasks: [], cancel: [] });
    expectErrorBody(await t.api('GET', '/tasks', undefined, token), 403, 'FORBIDDEN');
    expectErrorBody(
      await t.api('POST', '/tasks', { machine: 'local', command: 'id' }, token),
      403,
      'FORBIDDEN',
    );
  });
});

describe('routes', () => {
  it.each([
    ['GET', '/api/v1/nope'],
    ['GET', '/api/v2/tasks'],
    ['POST', '/'],
    ['DELETE', '/api/v1/tasks'],
    ['PUT', '/api/v1/tasks/0b7c6f5e-1d2a-4c3b-9e8f-7a6b5c4d3e2f'],
    ['POST', '/api/v1/tasks/0b7c6f5e-1d2a-4c3b-9e8f-7a6b5c4d3e2f/explode'],
  ])('%s %s is 404 ROUTE_NOT_FOUND', async (method, path) => {
    const err = expectErrorBody(await rawRequest(t.url, method, path), 404, 'ROUTE_NOT_FOUND');
    expect(err.message).toContain(path.split('?')[0]);
  });

  it('an unknown route is 404 without a token too (no auth leak either way)', async () => {
    expectErrorBody(
      await rawRequest(t.url, 'GET', '/api/v1/nope', { authorization: null }),
      404,
      'ROUTE_NOT_FOUND',
    );
  });

  it('GET /health works without a token', async () => {
    const res = await rawRequest(t.url, 'GET', '/api/v1/health', { authorization: null });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', store: 'sqlite' });
    expect(typeof (res.body as { version: unknown }).version).toBe('string');
  });

  it('GET /openapi.json needs a token', async () => {
    expectErrorBody(
      await rawRequest(t.url, 'GET', '/api/v1/openapi.json', { authorization: null }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('GET /openapi.json lists the task routes', async () => {
    const res = await t.api('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const paths = res.body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths['/api/v1/tasks'] ?? {}).sort()).toEqual(['get', 'post']);
    expect(paths['/api/v1/tasks/{id}']).toHaveProperty('get');
    expect(paths['/api/v1/tasks/{id}/cancel']).toHaveProperty('post');
    expect(paths['/api/v1/tasks/{id}/retry']).toHaveProperty('post');
    expect(paths['/api/v1/tasks/{id}/logs']).toHaveProperty('get');
    expect(paths['/api/v1/queue/stats']).toHaveProperty('get');
    expect(res.body.components?.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('every route but /health and the login routes demands a token', async () => {
    const spec = await t.api('GET', '/openapi.json');
    const paths = spec.body.paths as Record<string, Record<string, unknown>>;
    let checked = 0;
    for (const [path, methods] of Object.entries(paths)) {
      for (const method of Object.keys(methods)) {
        const concrete = path
          .replace('{id}', '0b7c6f5e-1d2a-4c3b-9e8f-7a6b5c4d3e2f')
          .replace('{name}', 'local');
        const res = await rawRequest(t.url, method.toUpperCase(), concrete, {
          authorization: null,
          ...(method === 'get' ? {} : { body: '{}' }),
        });
        if (path === '/api/v1/health') expect(res.status).toBe(200);
        else if (PUBLIC.has(`${method} ${path}`)) expect(res.status).toBe(400);
        else expectErrorBody(res, 401, 'UNAUTHENTICATED');
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(15);
  });
});

// GET / is the dashboard (test/api.web-dashboard.test.ts); the API's public routes answer 400 to an empty body.
const PUBLIC = new Set(['post /api/v1/auth/login', 'post /api/v1/auth/setup', 'post /api/v1/auth/session']);

describe('route permissions', () => {
  let dir: string;
  let store: SqliteStore;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rediacc-auth-'));
    store = new SqliteStore(join(dir, 'db'));
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Registers a route the way given and reports whether building the app failed, and how. */
  async function build(config: Record<string, unknown> | undefined): Promise<Error | null> {
    const app = Fastify();
    installErrorHandling(app);
    installAuth(app, store, Date.now);
    try {
      app.get('/x', config === undefined ? {} : { config }, async () => ({ ok: true }));
      await app.ready();
      return null;
    } catch (err) {
      return err as Error;
    } finally {
      await app.close().catch(() => {});
    }
  }

  it('a route without config.permission stops the app from building', async () => {
    const err = await build(undefined);
    expect(err).not.toBeNull();
    expect(err?.message).toMatch(/declares no valid permission/);
  });

  it('an unknown permission stops it too', async () => {
    expect((await build({ permission: 'task:destroy' }))?.message).toMatch(/no valid permission/);
    expect((await build({ other: 'thing' }))?.message).toMatch(/no valid permission/);
  });

  it('a known permission builds, and public routes answer without a token', async () => {
    expect(await build({ permission: 'task:read' })).toBeNull();
    const app = Fastify();
    installErrorHandling(app);
    installAuth(app, store, Date.now);
    app.get('/open', { config: { permission: 'public' } }, async () => ({ ok: true }));
    app.get('/closed', { config: { permission: 'task:read' } }, async () => ({ ok: true }));
    expect((await app.inject({ method: 'GET', url: '/open' })).statusCode).toBe(200);
    const closed = await app.inject({ method: 'GET', url: '/closed' });
    expect(closed.statusCode).toBe(401);
    expect(closed.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
    await app.close();
  });
});
