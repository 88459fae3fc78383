import type { TestServer } from './server.js';

export const PASSWORD = 'correct horse battery staple';
export const ROLES = ['maintainer', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Creates a user with a password, adds them to teams, logs in; returns their API token. */
export async function userWithRoles(
  t: TestServer,
  email: string,
  roles: Record<string, Role>,
): Promise<string> {
  const created = await t.api('POST', '/users', { email, password: PASSWORD });
  if (created.status !== 201) throw new Error(`create user ${email}: ${JSON.stringify(created.body)}`);
  for (const [team, role] of Object.entries(roles)) {
    const added = await t.api('POST', `/teams/${team}/members`, { email, role });
    if (added.status !== 201) throw new Error(`add ${email} to ${team}: ${JSON.stringify(added.body)}`);
  }
  const login = await t.api('POST', '/auth/login', { email, password: PASSWORD }, '');
  if (login.status !== 200) throw new Error(`login ${email}: ${JSON.stringify(login.body)}`);
  return login.body.token as string;
}

/** A team with a machine, a waiting task (no bridge runs it) and a vault key. */
export async function teamWithObjects(t: TestServer, team: string) {
  const ok = (r: { status: number; body: unknown }, what: string) => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Record<string, unknown>;
  };
  ok(await t.api('POST', '/teams', { name: team }), `team ${team}`);
  const machine = `${team}-m1`;
  ok(await t.api('POST', '/machines', { name: machine, team, concurrency: 1 }), 'machine');
  const task = ok(await t.api('POST', '/tasks', { machine, command: 'true' }), 'task');
  const batch = ok(await t.api('POST', '/tasks', { tasks: [{ machine, command: 'true' }] }), 'batch');
  ok(await t.api('POST', `/teams/${team}/vault-key`, { wrapped: '{"v":1,"iv":"x","ct":"y"}' }), 'vault key');
  ok(
    await t.api('PUT', `/teams/${team}/vault/app/secret`, {
      ciphertext: '{"v":1,"iv":"x","ct":"y"}',
      expectedVersion: 0,
    }),
    'vault value',
  );
  return {
    team,
    machine,
    taskId: task.taskId as string,
    batchId: batch.batchId as string,
    key: 'app/secret',
  };
}
