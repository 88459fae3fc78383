import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionOf } from '../src/server/audit-hook.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { PASSWORD, teamWithObjects, userWithRoles } from './helpers/teams.js';

// biome-ignore lint/suspicious/noExplicitAny: audit records are read as JSON
type Rec = any;

describe('audit log', () => {
  let t: TestServer;
  const records = async (query = '') => (await t.api('GET', `/audit?limit=5000${query}`)).body as Rec[];

  beforeAll(async () => {
    t = await startTestServer({ bridge: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('records every mutating route, with actor, action, target, team, source and outcome', async () => {
    const ctx = await teamWithObjects(t, 'ops');
    const calls: [string, string, unknown][] = [
      ['POST', '/teams', { name: 'audited' }],
      ['DELETE', '/teams/audited', undefined],
      ['POST', '/regions', { name: 'eu' }],
      ['POST', '/machines', { name: 'a-m', team: 'ops', region: 'eu' }],
      ['PATCH', '/machines/a-m', { concurrency: 2 }],
      ['DELETE', '/machines/a-m', undefined],
      ['POST', `/tasks/${ctx.taskId}/cancel`, {}],
      ['POST', `/tasks/${ctx.taskId}/retry`, {}],
      ['POST', '/bridges', { name: 'audit-bridge' }],
      ['POST', '/bridges/audit-bridge/reset-token', {}],
      ['POST', '/users', { email: 'a@example.com', password: PASSWORD }],
      ['PATCH', '/users/a@example.com', { disabled: false }],
      ['POST', '/teams/ops/members', { email: 'a@example.com', role: 'viewer' }],
      ['DELETE', '/teams/ops/members/a@example.com', undefined],
      ['POST', '/tokens', { name: 'ci' }],
      ['DELETE', '/tokens/ci', undefined],
      [
        'PUT',
        '/teams/ops/vault/db/password',
        { ciphertext: '{"v":1,"iv":"x","ct":"y"}', expectedVersion: 0 },
      ],
      ['DELETE', '/teams/ops/vault/db/password', undefined],
      ['POST', '/auth/login', { email: 'a@example.com', password: PASSWORD }],
    ];
    const before = (await records()).length;
    for (const [method, path, body] of calls) {
      const res = await t.api(method, path, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    }
    const after = await waitFor(async () => {
      const r = await records();
      return r.length >= before + calls.length ? r : undefined;
    });
    const actions = after.slice(before).map((r: Rec) => r.action);
    expect(actions).toEqual([
      'teams.create',
      'teams.delete',
      'regions.create',
      'machines.create',
      'machines.update',
      'machines.delete',
      'tasks.cancel',
      'tasks.retry',
      'bridges.create',
      'bridges.reset-token',
      'users.create',
      'users.update',
      'teams.members.create',
      'teams.members.delete',
      'tokens.create',
      'tokens.delete',
      'vault.set',
      'vault.delete',
      'auth.login',
    ]);
    const machine = after.find((r: Rec) => r.action === 'machines.update');
    expect(machine).toMatchObject({
      actor: 'admin@localhost',
      target: 'a-m',
      team: 'ops',
      outcome: 'ok',
      source: '127.0.0.1',
    });
    expect(machine.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(actionOf('POST', '/api/v1/tasks/:id/cancel')).toBe('tasks.cancel');
  });

  it('records failed logins, vault reads and refusals', async () => {
    await t.api('POST', '/users', { email: 'b@example.com', password: PASSWORD });
    await t.api('POST', '/auth/login', { email: 'b@example.com', password: 'wrong password!!' }, '');
    await teamWithObjects(t, 'vaulted');
    await t.api('GET', '/teams/vaulted/vault/app/secret');
    const token = await userWithRoles(t, 'c@example.com', { ops: 'viewer' });
    expect((await t.api('GET', '/users', undefined, token)).status).toBe(403);
    expect((await t.api('GET', '/teams/vaulted/vault', undefined, token)).status).toBe(404);
    const r = await waitFor(async () => {
      const list = await records();
      return list.some((x: Rec) => x.actor === 'c@example.com' && x.team === 'vaulted') ? list : undefined;
    });
    expect(r).toContainEqual(
      expect.objectContaining({ action: 'auth.login', actor: 'b@example.com', outcome: 'failed' }),
    );
    expect(r).toContainEqual(
      expect.objectContaining({ action: 'vault.read', target: 'app/secret', team: 'vaulted', outcome: 'ok' }),
    );
    expect(r).toContainEqual(
      expect.objectContaining({ action: 'users.read', actor: 'c@example.com', outcome: 'denied' }),
    );
    expect(r).toContainEqual(
      expect.objectContaining({ actor: 'c@example.com', team: 'vaulted', outcome: 'denied' }),
    );
    const filtered = await records('&action=vault');
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((x: Rec) => x.action.startsWith('vault'))).toBe(true);
  });

  it('verify passes, then fails after a row is edited or the newest row is removed', async () => {
    const ok = await t.api('GET', '/audit/verify');
    expect(ok.body).toMatchObject({ ok: true });
    expect(ok.body.checked).toBeGreaterThan(10);
    const db = new Database(join(t.dataDir, 'rediacc.db'));
    try {
      const row = db.prepare(`SELECT id, actor FROM audit_log WHERE action = 'machines.update'`).get() as {
        id: number;
        actor: string;
      };
      db.prepare('UPDATE audit_log SET actor = ? WHERE id = ?').run('mallory@example.com', row.id);
      const broken = await t.api('GET', '/audit/verify');
      expect(broken.body).toMatchObject({ ok: false, brokenAt: row.id });
      db.prepare('UPDATE audit_log SET actor = ? WHERE id = ?').run(row.actor, row.id);
      expect((await t.api('GET', '/audit/verify')).body.ok).toBe(true);
      const last = db.prepare('SELECT MAX(id) AS id FROM audit_log').get() as { id: number };
      db.prepare('DELETE FROM audit_log WHERE id = ?').run(last.id);
      const truncated = await t.api('GET', '/audit/verify');
      expect(truncated.body).toMatchObject({ ok: false });
      expect(truncated.body.problem).toContain('missing');
    } finally {
      db.close();
    }
  });

  it('refuses expired and revoked tokens with 401', async () => {
    const created = await t.api('POST', '/tokens', { name: 'short' });
    const token = created.body.token as string;
    expect((await t.api('GET', '/tasks', undefined, token)).status).toBe(200);
    expect((await t.api('DELETE', '/tokens/short')).status).toBe(204);
    const revoked = await t.api('GET', '/tasks', undefined, token);
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe('INVALID_TOKEN');
    const db = new Database(join(t.dataDir, 'rediacc.db'));
    try {
      const fresh = await t.api('POST', '/tokens', { name: 'expiring', expiresInDays: 1 });
      db.prepare(`UPDATE tokens SET expires_at = 1 WHERE name = 'expiring'`).run();
      expect((await t.api('GET', '/tasks', undefined, fresh.body.token)).status).toBe(401);
    } finally {
      db.close();
    }
    expect((await t.api('GET', '/tasks', undefined, ADMIN_TOKEN)).status).toBe(200);
  });
});
