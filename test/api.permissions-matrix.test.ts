import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionOf } from '../src/server/audit-hook.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { type Role, teamWithObjects, userWithRoles } from './helpers/teams.js';

// Every route × every role × own/other team. A route that is added without a
// case here fails the first test, so no route escapes the permission check.

type Ctx = Awaited<ReturnType<typeof teamWithObjects>>;
type Req = { method?: string; url: string; body?: unknown };
type Rule = { scope: 'public' | 'user' | 'admin' | 'bridge' } | { scope: 'team'; role: Role; hidden: string };
interface Case {
  rule: Rule;
  req: (c: Ctx, who: string) => Req;
  /** 404 codes that mean "allowed, but the object is gone" rather than "hidden". */
  okCodes?: string[];
  /** A server-sent event stream: only its status (and error body) is read. */
  stream?: boolean;
}

const sealed = '{"v":1,"iv":"x","ct":"y"}';
const team = (role: Role, hidden: string): Rule => ({ scope: 'team', role, hidden });
const CASES: Record<string, Case> = {
  'GET /api/v1/health': { rule: { scope: 'public' }, req: () => ({ url: '/health' }) },
  'GET /api/v1/openapi.json': { rule: { scope: 'user' }, req: () => ({ url: '/openapi.json' }) },
  'POST /api/v1/auth/login': { rule: { scope: 'public' }, req: () => ({ url: '/auth/login', body: {} }) },
  'POST /api/v1/auth/setup': { rule: { scope: 'public' }, req: () => ({ url: '/auth/setup', body: {} }) },
  'GET /api/v1/alerts': { rule: { scope: 'user' }, req: () => ({ url: '/alerts' }) },
  'GET /api/v1/queue/stats': { rule: { scope: 'user' }, req: () => ({ url: '/queue/stats' }) },
  'GET /api/v1/batches/{id}': {
    rule: team('viewer', 'BATCH_NOT_FOUND'),
    req: (c) => ({ url: `/batches/${c.batchId}` }),
  },
  'GET /api/v1/batches': { rule: { scope: 'user' }, req: () => ({ url: '/batches' }) },
  'GET /api/v1/batches/{id}/tasks': {
    rule: team('viewer', 'BATCH_NOT_FOUND'),
    req: (c) => ({ url: `/batches/${c.batchId}/tasks` }),
  },
  'GET /api/v1/batches/{id}/failures': {
    rule: team('viewer', 'BATCH_NOT_FOUND'),
    req: (c) => ({ url: `/batches/${c.batchId}/failures` }),
  },
  'POST /api/v1/batches/{id}/rerun-failed': {
    // Nothing ran (no bridge): an allowed call answers 409 NO_FAILED_TASKS and creates nothing.
    rule: team('operator', 'BATCH_NOT_FOUND'),
    req: (c) => ({ url: `/batches/${c.batchId}/rerun-failed`, body: {} }),
  },
  'GET /api/v1/output/search': { rule: { scope: 'user' }, req: () => ({ url: '/output/search?q=true' }) },
  'GET /api/v1/machines/{name}/task-summary': {
    rule: team('viewer', 'MACHINE_NOT_FOUND'),
    req: (c) => ({ url: `/machines/${c.machine}/task-summary` }),
  },
  'POST /api/v1/tasks': {
    rule: team('operator', 'MACHINE_NOT_FOUND'),
    req: (c) => ({ url: '/tasks', body: { machine: c.machine, command: 'true' } }),
  },
  'GET /api/v1/tasks': { rule: { scope: 'user' }, req: () => ({ url: '/tasks' }) },
  'GET /api/v1/tasks/{id}': {
    rule: team('viewer', 'TASK_NOT_FOUND'),
    req: (c) => ({ url: `/tasks/${c.taskId}` }),
  },
  'POST /api/v1/tasks/{id}/cancel': {
    rule: team('operator', 'TASK_NOT_FOUND'),
    req: (c) => ({ url: `/tasks/${c.taskId}/cancel`, body: {} }),
  },
  'POST /api/v1/tasks/{id}/retry': {
    rule: team('operator', 'TASK_NOT_FOUND'),
    req: (c) => ({ url: `/tasks/${c.taskId}/retry`, body: {} }),
  },
  'POST /api/v1/schedules': {
    rule: team('operator', 'MACHINE_NOT_FOUND'),
    req: (c, who) => ({
      url: '/schedules',
      body: {
        name: `${c.team}-${who}-${Date.now()}`,
        cron: '0 3 * * *',
        machine: c.machine,
        command: 'true',
      },
    }),
  },
  'GET /api/v1/schedules': { rule: { scope: 'user' }, req: () => ({ url: '/schedules' }) },
  'GET /api/v1/schedules/{name}': {
    rule: team('viewer', 'SCHEDULE_NOT_FOUND'),
    req: (c) => ({ url: `/schedules/${c.team}-sched` }),
  },
  'PATCH /api/v1/schedules/{name}': {
    rule: team('operator', 'SCHEDULE_NOT_FOUND'),
    req: (c) => ({ method: 'PATCH', url: `/schedules/${c.team}-sched`, body: { paused: true } }),
  },
  'DELETE /api/v1/schedules/{name}': {
    // One schedule per caller: an allowed delete must not hide the next caller's.
    rule: team('operator', 'SCHEDULE_NOT_FOUND'),
    req: (c, who) => ({ method: 'DELETE', url: `/schedules/${c.team}-del-${who}` }),
  },
  'GET /api/v1/tasks/{id}/logs': {
    rule: team('viewer', 'TASK_NOT_FOUND'),
    req: (c) => ({ url: `/tasks/${c.taskId}/logs` }),
  },
  'POST /api/v1/machines': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c, who) => ({ url: '/machines', body: { name: `${c.team}-${who}-${Date.now()}`, team: c.team } }),
  },
  'GET /api/v1/machines': { rule: { scope: 'user' }, req: () => ({ url: '/machines' }) },
  'GET /api/v1/machines/{name}': {
    rule: team('viewer', 'MACHINE_NOT_FOUND'),
    req: (c) => ({ url: `/machines/${c.machine}` }),
  },
  'PATCH /api/v1/machines/{name}': {
    rule: team('maintainer', 'MACHINE_NOT_FOUND'),
    req: (c) => ({ method: 'PATCH', url: `/machines/${c.machine}`, body: { labels: { tier: 'x' } } }),
  },
  'DELETE /api/v1/machines/{name}': {
    // The machine has waiting tasks: an allowed delete answers 409 MACHINE_BUSY and changes nothing.
    rule: team('maintainer', 'MACHINE_NOT_FOUND'),
    req: (c) => ({ method: 'DELETE', url: `/machines/${c.machine}` }),
  },
  'POST /api/v1/teams': {
    rule: { scope: 'admin' },
    req: (_c, who) => ({ url: '/teams', body: { name: `t-${who}-${Date.now()}` } }),
  },
  'GET /api/v1/teams': { rule: { scope: 'user' }, req: () => ({ url: '/teams' }) },
  'DELETE /api/v1/teams/{name}': {
    rule: { scope: 'admin' },
    req: (c) => ({ method: 'DELETE', url: `/teams/${c.team}` }),
  },
  'POST /api/v1/regions': {
    rule: { scope: 'admin' },
    req: () => ({ url: '/regions', body: { name: 'r-matrix' } }),
  },
  'GET /api/v1/regions': { rule: { scope: 'user' }, req: () => ({ url: '/regions' }) },
  'POST /api/v1/bridges': {
    rule: { scope: 'admin' },
    req: (_c, who) => ({ url: '/bridges', body: { name: `b-${who}-${Date.now()}` } }),
  },
  'GET /api/v1/bridges': { rule: { scope: 'user' }, req: () => ({ url: '/bridges' }) },
  'POST /api/v1/bridges/{name}/reset-token': {
    rule: { scope: 'admin' },
    req: () => ({ url: '/bridges/matrix-bridge/reset-token', body: {} }),
  },
  'POST /api/v1/bridge/claim': {
    rule: { scope: 'bridge' },
    req: () => ({ url: '/bridge/claim', body: { max: 0 } }),
  },
  'POST /api/v1/bridge/report': {
    rule: { scope: 'bridge' },
    req: () => ({ url: '/bridge/report', body: {} }),
  },
  'GET /api/v1/bridge/machines': { rule: { scope: 'bridge' }, req: () => ({ url: '/bridge/machines' }) },
  'POST /api/v1/bridge/host-key': {
    rule: { scope: 'bridge' },
    req: (c) => ({ url: '/bridge/host-key', body: { machine: c.machine, hostKey: 'ssh-ed25519 AAAA' } }),
  },
  'POST /api/v1/bridge/health': {
    rule: { scope: 'bridge' },
    req: () => ({ url: '/bridge/health', body: { reports: [] } }),
  },
  'GET /api/v1/machines/{name}/health': {
    rule: team('viewer', 'MACHINE_NOT_FOUND'),
    req: (c) => ({ url: `/machines/${c.machine}/health` }),
  },
  'PATCH /api/v1/teams/{name}': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ method: 'PATCH', url: `/teams/${c.team}`, body: { maxKeyAgeDays: null } }),
  },
  'POST /api/v1/users': {
    rule: { scope: 'admin' },
    req: (_c, who) => ({ url: '/users', body: { email: `new-${who}-${Date.now()}@x` } }),
  },
  'GET /api/v1/users': { rule: { scope: 'admin' }, req: () => ({ url: '/users' }) },
  'PATCH /api/v1/users/{email}': {
    rule: { scope: 'admin' },
    req: () => ({ method: 'PATCH', url: '/users/spare@example.com', body: { disabled: false } }),
  },
  'POST /api/v1/tokens': {
    rule: { scope: 'user' },
    req: () => ({ url: '/tokens', body: { name: 'matrix' } }),
  },
  'GET /api/v1/tokens': { rule: { scope: 'user' }, req: () => ({ url: '/tokens' }) },
  'DELETE /api/v1/tokens/{token}': {
    rule: { scope: 'user' },
    req: () => ({ method: 'DELETE', url: '/tokens/no-such-token' }),
    okCodes: ['TOKEN_NOT_FOUND'],
  },
  'GET /api/v1/teams/{name}/members': {
    rule: team('viewer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ url: `/teams/${c.team}/members` }),
  },
  'POST /api/v1/teams/{name}/members': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ url: `/teams/${c.team}/members`, body: { email: 'spare@example.com', role: 'viewer' } }),
  },
  'DELETE /api/v1/teams/{name}/members/{email}': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ method: 'DELETE', url: `/teams/${c.team}/members/nobody@example.com` }),
    okCodes: ['USER_NOT_FOUND'],
  },
  'GET /api/v1/vault/master': { rule: { scope: 'user' }, req: () => ({ url: '/vault/master' }) },
  'POST /api/v1/vault/master': {
    rule: { scope: 'admin' },
    req: () => ({ url: '/vault/master', body: { kdf: '{}', verifier: sealed } }),
  },
  'PUT /api/v1/vault/master': {
    rule: { scope: 'admin' },
    req: () => ({ method: 'PUT', url: '/vault/master', body: { kdf: '{}', verifier: sealed, teamKeys: [] } }),
  },
  'GET /api/v1/vault/team-keys': { rule: { scope: 'admin' }, req: () => ({ url: '/vault/team-keys' }) },
  'GET /api/v1/teams/{name}/vault-key': {
    rule: team('operator', 'TEAM_NOT_FOUND'),
    req: (c) => ({ url: `/teams/${c.team}/vault-key` }),
  },
  'POST /api/v1/teams/{name}/vault-key': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ url: `/teams/${c.team}/vault-key`, body: { wrapped: sealed } }),
  },
  'GET /api/v1/teams/{name}/vault': {
    rule: team('viewer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ url: `/teams/${c.team}/vault` }),
  },
  'GET /api/v1/teams/{name}/vault/{*}': {
    rule: team('operator', 'TEAM_NOT_FOUND'),
    req: (c) => ({ url: `/teams/${c.team}/vault/${c.key}` }),
  },
  'PUT /api/v1/teams/{name}/vault/{*}': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({
      method: 'PUT',
      url: `/teams/${c.team}/vault/${c.key}`,
      body: { ciphertext: sealed, expectedVersion: 99 },
    }),
  },
  'DELETE /api/v1/teams/{name}/vault/{*}': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ method: 'DELETE', url: `/teams/${c.team}/vault/not/there` }),
    okCodes: ['VAULT_KEY_NOT_FOUND'],
  },
  'GET /api/v1/audit': { rule: { scope: 'admin' }, req: () => ({ url: '/audit' }) },
  'GET /api/v1/audit/verify': { rule: { scope: 'admin' }, req: () => ({ url: '/audit/verify' }) },
  'POST /api/v1/auth/session': { rule: { scope: 'public' }, req: () => ({ url: '/auth/session', body: {} }) },
  'GET /api/v1/auth/session': { rule: { scope: 'user' }, req: () => ({ url: '/auth/session' }) },
  'DELETE /api/v1/auth/session': {
    rule: { scope: 'user' },
    req: () => ({ method: 'DELETE', url: '/auth/session' }),
  },
  'GET /api/v1/queue/failures': { rule: { scope: 'user' }, req: () => ({ url: '/queue/failures' }) },
  'GET /api/v1/tasks/{id}/wait': {
    rule: team('viewer', 'TASK_NOT_FOUND'),
    req: (c) => ({ url: `/tasks/${c.taskId}/wait` }),
  },
  'GET /api/v1/queue/history': { rule: { scope: 'user' }, req: () => ({ url: '/queue/history' }) },
  'GET /api/v1/tasks/{id}/usual': {
    rule: team('viewer', 'TASK_NOT_FOUND'),
    req: (c) => ({ url: `/tasks/${c.taskId}/usual` }),
  },
  // A list: another team's tasks are left out of the answer (200), never refused.
  'GET /api/v1/tasks/usual': {
    rule: { scope: 'user' },
    req: (c) => ({ url: `/tasks/usual?ids=${c.taskId}` }),
  },
  'GET /api/v1/events': { rule: { scope: 'user' }, req: () => ({ url: '/events' }), stream: true },
  'POST /api/v1/teams/{name}/channels': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c, who) => ({
      url: `/teams/${c.team}/channels`,
      body: {
        name: `c-${who}-${Date.now()}`,
        type: 'webhook',
        url: 'http://127.0.0.1:9/hook',
        secrets: [{ key: 'secret', ciphertext: sealed, expectedVersion: 0 }],
      },
    }),
  },
  'GET /api/v1/channels': { rule: { scope: 'user' }, req: () => ({ url: '/channels' }) },
  'DELETE /api/v1/teams/{name}/channels/{channel}': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ method: 'DELETE', url: `/teams/${c.team}/channels/no-such-channel` }),
    okCodes: ['CHANNEL_NOT_FOUND'],
  },
  'POST /api/v1/teams/{name}/channels/{channel}/test': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ url: `/teams/${c.team}/channels/no-such-channel/test`, body: {} }),
    okCodes: ['CHANNEL_NOT_FOUND'],
  },
  'GET /api/v1/teams/{name}/alert-rules': {
    rule: team('viewer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ url: `/teams/${c.team}/alert-rules` }),
  },
  'PATCH /api/v1/teams/{name}/alert-rules': {
    rule: team('maintainer', 'TEAM_NOT_FOUND'),
    req: (c) => ({ method: 'PATCH', url: `/teams/${c.team}/alert-rules`, body: { queueThreshold: 500 } }),
  },
  // Prometheus scrapes at the root, outside /api/v1 (the request URL climbs out of the prefix).
  'GET /metrics': { rule: { scope: 'admin' }, req: () => ({ url: '/../../metrics' }) },
  'POST /api/v1/metrics/tokens': {
    rule: { scope: 'admin' },
    req: (_c, who) => ({ url: '/metrics/tokens', body: { name: `matrix-${who}` } }),
  },
};

const RANK: Record<Role, number> = { viewer: 1, operator: 2, maintainer: 3 };
type Who = 'admin' | Role;

/** What a caller should get: allowed, 403, or the 404 that hides another team's object. */
function expected(rule: Rule, who: Who, own: boolean): 'allowed' | 'forbidden' | 'hidden' {
  if (rule.scope === 'public') return 'allowed';
  if (rule.scope === 'bridge') return 'forbidden';
  if (who === 'admin') return 'allowed';
  if (rule.scope === 'user') return 'allowed';
  if (rule.scope === 'admin') return 'forbidden';
  if (rule.scope !== 'team') return 'forbidden';
  if (!own) return 'hidden';
  return RANK[who] >= RANK[rule.role] ? 'allowed' : 'forbidden';
}

describe('permissions: every route × every role × own/other team', () => {
  let t: TestServer;
  let alpha: Ctx;
  let beta: Ctx;
  const tokens: Record<Who, string> = { admin: ADMIN_TOKEN, maintainer: '', operator: '', viewer: '' };

  beforeAll(async () => {
    t = await startTestServer({ bridge: false });
    alpha = await teamWithObjects(t, 'alpha');
    beta = await teamWithObjects(t, 'beta');
    // Schedules to read and pause, and one per caller to delete.
    for (const c of [alpha, beta]) {
      for (const suffix of ['sched', 'del-admin', 'del-maintainer', 'del-operator', 'del-viewer']) {
        const s = { name: `${c.team}-${suffix}`, cron: '0 3 * * *', machine: c.machine, command: 'true' };
        if ((await t.api('POST', '/schedules', s)).status !== 201) throw new Error(`schedule ${s.name}`);
      }
    }
    for (const role of ['maintainer', 'operator', 'viewer'] as const) {
      tokens[role] = await userWithRoles(t, `${role}@example.com`, { alpha: role });
    }
    await t.api('POST', '/users', { email: 'spare@example.com' });
    await t.api('POST', '/bridges', { name: 'matrix-bridge' });
  });
  afterAll(async () => {
    await t.close();
  });

  it('has a case for every route the server serves', async () => {
    const spec = (await t.api('GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const served = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    served.push('GET /api/v1/openapi.json');
    expect(served.filter((r) => !(r in CASES))).toEqual([]);
    expect(Object.keys(CASES).filter((r) => !served.includes(r))).toEqual([]);
  });

  for (const [route, c] of Object.entries(CASES)) {
    it(route, async () => {
      const problems: string[] = [];
      for (const who of ['admin', 'maintainer', 'operator', 'viewer'] as const) {
        for (const [own, ctx] of [
          [true, alpha],
          [false, beta],
        ] as const) {
          const req = c.req(ctx, who);
          const method = req.method ?? (req.body === undefined ? 'GET' : 'POST');
          const res = c.stream
            ? await streamStatus(t.url, req.url, tokens[who])
            : await t.api(method, req.url, req.body, tokens[who]);
          const want = expected(c.rule, who, own);
          const code = res.body?.error?.code as string | undefined;
          const got =
            res.status === 403
              ? 'forbidden'
              : res.status === 404 && !(c.okCodes ?? []).includes(code ?? '')
                ? 'hidden'
                : res.status === 401
                  ? 'unauthenticated'
                  : res.status >= 500
                    ? 'error'
                    : 'allowed';
          const hiddenCode = c.rule.scope === 'team' ? c.rule.hidden : undefined;
          if (got !== want || (got === 'hidden' && code !== hiddenCode)) {
            problems.push(
              `${who} on ${own ? 'own' : 'other'} team: ${method} ${req.url} → ${res.status} ${code ?? ''}, want ${want}`,
            );
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }

  // Runs after every route was called by every role: each mutating route left audit records.
  it('every mutating route appears in the audit log', async () => {
    const mutating = Object.keys(CASES)
      .map((k) => k.split(' ') as [string, string])
      .filter(([method]) => method !== 'GET')
      .map(([method, path]) => actionOf(method, path.replace(/\{([^}]+)\}/g, ':$1').replace(':*', '*')));
    const seen = await waitFor(async () => {
      const actions = new Set<string>();
      for (let after = 0; ; ) {
        const page = (await t.api('GET', `/audit?after=${after}&limit=5000`)).body as {
          id: number;
          action: string;
        }[];
        for (const r of page) actions.add(r.action);
        if (page.length < 5000) break;
        after = page.at(-1)?.id ?? after;
      }
      // Handlers name some actions themselves (vault.set, vault.init…); accept either name.
      return mutating.every((a) => actions.has(a) || [...actions].some((x) => aliases(a).includes(x)))
        ? actions
        : undefined;
    });
    expect(seen.size).toBeGreaterThan(10);
  });
});

/** Actions that handlers name explicitly instead of the derived name. */
function aliases(derived: string): string[] {
  const table: Record<string, string[]> = {
    'vault.master.create': ['vault.init'],
    'vault.master.update': ['vault.change-master'],
    'teams.vault.update': ['vault.set'],
    'teams.vault.delete': ['vault.delete'],
    'bridge.host-key.create': ['machines.host-key.pin'],
  };
  return table[derived] ?? [];
}

/** Opens an event stream, reads its status (and the error body of a refusal), and closes it. */
async function streamStatus(base: string, path: string, token: string) {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/v1${path}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal,
  });
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  const body: any = res.status === 200 ? null : await res.json();
  abort.abort();
  return { status: res.status, body };
}
