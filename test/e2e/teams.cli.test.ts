import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rediacc } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.js';
import { PASSWORD, userWithRoles } from '../helpers/teams.js';

// An operator in staging with nothing in production, in the API and the CLI.
describe('team separation', () => {
  let t: TestServer;
  let operator: string;
  let prodTask: string;
  const as = (token: string, ...args: string[]) =>
    rediacc(args, { env: { REDIACC_URL: t.url, REDIACC_TOKEN: token } });
  const admin = (...args: string[]) => as(ADMIN_TOKEN, ...args);

  beforeAll(async () => {
    t = await startTestServer();
    for (const team of ['staging', 'production']) {
      expect((await admin('create', 'team', team)).code).toBe(0);
      expect((await admin('create', 'machine', `${team}-01`, '--team', team)).code).toBe(0);
    }
    const set = await rediacc(['vault', 'set', 'db/password', '--team', 'production', '--stdin'], {
      env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_DATA_DIR: t.dataDir },
      input: 'prod-secret-value',
    });
    expect(set.code, set.stderr).toBe(0);
    const prod = await admin(
      'create',
      'task',
      '--machine',
      'production-01',
      '--command',
      'echo prod',
      '-o',
      'json',
    );
    prodTask = JSON.parse(prod.stdout).taskId;
    operator = await userWithRoles(t, 'op@example.com', { staging: 'operator' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('runs tasks on staging machines', async () => {
    const r = await as(
      operator,
      'create',
      'task',
      '--machine',
      'staging-01',
      '--command',
      'echo hi from staging',
      '--wait',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hi from staging\n');
  });

  it('gets 404 for every production task, machine and vault key, in the CLI', async () => {
    const cases: [string[], string][] = [
      [['get', 'task', prodTask], 'TASK_NOT_FOUND'],
      [['logs', prodTask], 'TASK_NOT_FOUND'],
      [['cancel', 'task', prodTask], 'TASK_NOT_FOUND'],
      [['retry', 'task', prodTask], 'TASK_NOT_FOUND'],
      [['get', 'machine', 'production-01'], 'MACHINE_NOT_FOUND'],
      [['create', 'task', '--machine', 'production-01', '--command', 'true'], 'MACHINE_NOT_FOUND'],
      [['delete', 'machine', 'production-01'], 'MACHINE_NOT_FOUND'],
      [['vault', 'list', '--team', 'production'], 'TEAM_NOT_FOUND'],
      [['team', 'members', 'production'], 'TEAM_NOT_FOUND'],
    ];
    for (const [args, code] of cases) {
      const r = await as(operator, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(`[${code}]`);
    }
  });

  it('gets 404 in the API and sees only staging in lists', async () => {
    const api = (path: string) => t.api('GET', path, undefined, operator);
    expect((await api(`/tasks/${prodTask}`)).status).toBe(404);
    expect((await api('/machines/production-01')).status).toBe(404);
    expect((await api('/teams/production/vault/db/password')).status).toBe(404);
    expect((await api('/teams/production/vault-key')).status).toBe(404);
    const tasks = (await api('/tasks')).body as { team: string }[];
    expect(tasks.length).toBeGreaterThan(0);
    expect(tasks.every((x) => x.team === 'staging')).toBe(true);
    expect(((await api('/tasks?team=production')).body as unknown[]).length).toBe(0);
    expect(((await api('/machines')).body as { name: string }[]).map((m) => m.name)).toEqual(['staging-01']);
    expect(((await api('/teams')).body as { name: string }[]).map((m) => m.name)).toEqual(['staging']);
  });

  it('cannot do what the role does not allow in its own team', async () => {
    const r = await as(operator, 'delete', 'machine', 'staging-01');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[FORBIDDEN]');
    const viewer = await userWithRoles(t, 'viewer@example.com', { staging: 'viewer' });
    const denied = await as(viewer, 'create', 'task', '--machine', 'staging-01', '--command', 'true');
    expect(denied.stderr).toContain('[FORBIDDEN]');
    const secret = await t.api('GET', '/teams/staging/vault-key', undefined, viewer);
    expect(secret.status).toBe(403);
  });

  it('bad input: unknown role, duplicate team, login rate limit — each a clear error, nothing changed', async () => {
    const role = await admin('team', 'add-member', 'staging', 'viewer@example.com', '--role', 'owner');
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('--role must be one of');
    const api = await t.api('POST', '/teams/staging/members', { email: 'viewer@example.com', role: 'owner' });
    expect(api.status).toBe(400);
    const members = JSON.parse((await admin('team', 'members', 'staging', '-o', 'json')).stdout) as {
      email: string;
      role: string;
    }[];
    expect(members.find((m) => m.email === 'viewer@example.com')?.role).toBe('viewer');
    const dup = await admin('create', 'team', 'staging');
    expect(dup.code).toBe(2);
    expect(dup.stderr).toContain('[TEAM_EXISTS]');
    for (let i = 0; i < 5; i += 1) {
      const bad = await t.api(
        'POST',
        '/auth/login',
        { email: 'op@example.com', password: 'wrong-password-here' },
        '',
      );
      expect(bad.status).toBe(401);
    }
    const limited = await t.api('POST', '/auth/login', { email: 'op@example.com', password: PASSWORD }, '');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('LOGIN_RATE_LIMITED');
    const audit = await waitFor(async () => {
      const list = (await t.api('GET', '/audit?action=auth.login&limit=100')).body as { outcome: string }[];
      return list.filter((a) => a.outcome === 'failed').length >= 5 ? list : undefined;
    });
    expect(audit.filter((a) => a.outcome === 'denied').length).toBeGreaterThanOrEqual(1);
  });
});
