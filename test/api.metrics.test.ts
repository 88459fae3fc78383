import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveriesTotal } from '../src/server/metrics/registry.js';
import { startServer } from '../src/server/start.js';
import { parseMetrics, rawValue, total } from './helpers/prometheus.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { PASSWORD, userWithRoles } from './helpers/teams.js';

// GET /metrics against a real server with its embedded bridge running real commands.

interface Lane {
  team: string;
  priority: number;
  pending: number;
  running: number;
  assigned: number;
}

describe('GET /metrics', () => {
  let t: TestServer;
  const scrape = async (token: string | null = ADMIN_TOKEN) => {
    const res = await fetch(`${t.url}/metrics`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  const metrics = async () => {
    const r = await scrape();
    expect(r.status, r.text).toBe(200);
    return r.text;
  };

  beforeAll(async () => {
    t = await startTestServer({ healthIntervalMs: 200 });
    for (const team of ['load', 'obs'])
      expect((await t.api('POST', '/teams', { name: team })).status).toBe(201);
    const machine = (name: string, team: string, concurrency: number) =>
      t.api('POST', '/machines', { name, team, concurrency });
    expect((await machine('load-1', 'load', 1)).status).toBe(201);
    expect((await machine('obs-1', 'obs', 2)).status).toBe(201);
  });
  afterAll(async () => {
    await t.close();
  });

  it('needs a token: 401 without one or with an unknown one, 403 for a user who is not an admin', async () => {
    const none = await scrape(null);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).error.code).toBe('UNAUTHENTICATED');
    expect((await scrape('rdc_not_a_token')).status).toBe(401);
    const viewer = await userWithRoles(t, 'viewer@example.com', { obs: 'viewer' });
    expect((await scrape(viewer)).status).toBe(403);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.type).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('a metrics token scrapes and does nothing else; revoked, it is refused', async () => {
    const minted = await t.api('POST', '/metrics/tokens', { name: 'prometheus', expiresInDays: 365 });
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({ name: 'prometheus', scope: 'metrics' });
    const token = minted.body.token as string;
    expect((await scrape(token)).status).toBe(200);
    for (const [method, path, body] of [
      ['GET', '/tasks', undefined],
      ['GET', '/queue/stats', undefined],
      ['POST', '/tokens', { name: 'escalate' }],
      ['POST', '/metrics/tokens', { name: 'another' }],
      ['POST', '/teams', { name: 'nope' }],
    ] as const) {
      const r = await t.api(method, path, body, token);
      expect(r.status, `${method} ${path}`).toBe(403);
    }
    // It is one of the admin's tokens: listed and revoked like the others.
    const listed = (await t.api('GET', '/tokens')).body as { name: string; scope: string | null }[];
    expect(listed.find((x) => x.name === 'prometheus')?.scope).toBe('metrics');
    expect(listed.every((x) => x.name === 'prometheus' || x.scope === null)).toBe(true);
    expect((await t.api('DELETE', '/tokens/prometheus')).status).toBe(204);
    expect((await scrape(token)).status).toBe(401);
  });

  it('only admins mint metrics tokens, and a demoted admin’s metrics token stops working', async () => {
    const operator = await userWithRoles(t, 'op@example.com', { obs: 'operator' });
    expect((await t.api('POST', '/metrics/tokens', { name: 'mine' }, operator)).status).toBe(403);
    expect(
      (await t.api('POST', '/users', { email: 'ops-admin@example.com', password: PASSWORD, admin: true }))
        .status,
    ).toBe(201);
    const login = await t.api(
      'POST',
      '/auth/login',
      { email: 'ops-admin@example.com', password: PASSWORD },
      '',
    );
    const minted = await t.api('POST', '/metrics/tokens', { name: 'prom' }, login.body.token);
    expect(minted.status).toBe(201);
    expect((await scrape(minted.body.token)).status).toBe(200);
    expect((await t.api('PATCH', '/users/ops-admin@example.com', { admin: false })).status).toBe(200);
    expect((await scrape(minted.body.token)).status).toBe(403);
  });

  it('refuses bad input for metrics tokens with 400 and creates nothing', async () => {
    for (const body of [{}, { name: '' }, { name: 'x', expiresInDays: 0 }, { name: 'x', scope: 'admin' }]) {
      const r = await t.api('POST', '/metrics/tokens', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
    const names = ((await t.api('GET', '/tokens')).body as { name: string }[]).map((x) => x.name);
    expect(names).not.toContain('x');
  });

  it('GET /queue/stats takes top from 1 to 100 and refuses anything else with 400', async () => {
    for (const q of ['top=0', 'top=101', 'top=two', 'top=-1', 'top=', 'top=5&extra=1']) {
      const r = await t.api('GET', `/queue/stats?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
    const one = await t.api('GET', '/queue/stats?top=1');
    expect(one.status).toBe(200);
    expect(one.body.busiestMachines.length).toBeLessThanOrEqual(1);
    expect((await t.api('GET', '/queue/stats?top=100')).status).toBe(200);
  });

  it('parses as Prometheus text, and its pending gauge equals queue stats while tasks queue up', async () => {
    const tasks = [
      ...Array.from({ length: 120 }, () => ({ machine: 'load-1', command: 'sleep 0.02', priority: 2 })),
      ...Array.from({ length: 60 }, () => ({ machine: 'load-1', command: 'sleep 0.02', priority: 4 })),
    ];
    expect((await t.api('POST', '/tasks', { tasks })).status).toBe(201);
    const seen = new Set<number>();
    let compared = 0;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (compared < 8 || seen.size < 3)) {
      const before = (await t.api('GET', '/queue/stats')).body as { pendingTotal: number; lanes: Lane[] };
      const text = await metrics();
      const after = (await t.api('GET', '/queue/stats')).body as { pendingTotal: number; lanes: Lane[] };
      // Compare only when the queue did not move between the two reads around the scrape.
      if (JSON.stringify(before.lanes) !== JSON.stringify(after.lanes)) continue;
      const m = parseMetrics(text);
      expect(m.get('rediacc_tasks_pending')?.type).toBe('GAUGE');
      expect(total(m, 'rediacc_tasks_pending')).toBe(after.pendingTotal);
      for (const lane of after.lanes) {
        const labels = { team: lane.team, priority: String(lane.priority) };
        expect(total(m, 'rediacc_tasks_pending', labels)).toBe(lane.pending);
        expect(total(m, 'rediacc_tasks_running', labels)).toBe(lane.running);
        expect(total(m, 'rediacc_tasks_assigned', labels)).toBe(lane.assigned);
      }
      compared += 1;
      seen.add(after.pendingTotal);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(compared).toBeGreaterThanOrEqual(8);
    // The queue really moved while it was compared.
    expect(seen.size).toBeGreaterThanOrEqual(3);
    expect(Math.max(...seen)).toBeGreaterThan(0);
    // A load-1 lane of priority 2 ran at most one at a time (concurrency 1).
    const m = parseMetrics(await metrics());
    expect(total(m, 'rediacc_machine_concurrency', { machine: 'load-1' })).toBe(1);
    expect(total(m, 'rediacc_machine_running_tasks', { machine: 'load-1' })).toBeLessThanOrEqual(1);
  });

  it('counts attempts, failures by reason, and wait and run times per team', async () => {
    const tasks = [
      { machine: 'obs-1', command: 'true', priority: 2 },
      { machine: 'obs-1', command: 'sleep 0.3', priority: 2 },
      { machine: 'obs-1', command: 'exit 3', priority: 3 },
      { machine: 'obs-1', command: 'sleep 5', priority: 3, timeout: 0.3 },
    ];
    const created = await t.api('POST', '/tasks', { tasks });
    expect(created.status).toBe(201);
    await waitFor(async () => {
      const done = await Promise.all(
        (created.body.taskIds as string[]).map(
          async (id) => (await t.api('GET', `/tasks/${id}`)).body.status,
        ),
      );
      return done.every((s) => s === 'completed' || s === 'failed') ? true : undefined;
    });
    const text = await waitFor(async () => {
      const body = await metrics();
      return rawValue(body, 'rediacc_task_attempts_total', { team: 'obs' }) === 4 ? body : undefined;
    });
    expect(rawValue(text, 'rediacc_task_attempts_total', { team: 'obs', status: 'completed' })).toBe(2);
    expect(rawValue(text, 'rediacc_task_attempts_total', { team: 'obs', status: 'failed' })).toBe(2);
    expect(rawValue(text, 'rediacc_task_failures_total', { team: 'obs', reason: 'EXIT_NONZERO' })).toBe(1);
    expect(rawValue(text, 'rediacc_task_failures_total', { team: 'obs', reason: 'TIMEOUT' })).toBe(1);
    expect(rawValue(text, 'rediacc_task_wait_seconds_count', { team: 'obs', priority: '2' })).toBe(2);
    expect(rawValue(text, 'rediacc_task_wait_seconds_count', { team: 'obs', priority: '3' })).toBe(2);
    expect(rawValue(text, 'rediacc_task_run_seconds_count', { team: 'obs' })).toBe(4);
    // `sleep 0.3` ran at least 0.3 s; it sits in no bucket below that.
    expect(
      rawValue(text, 'rediacc_task_run_seconds_bucket', { team: 'obs', status: 'completed', le: '0.1' }),
    ).toBeLessThanOrEqual(1);
    expect(
      rawValue(text, 'rediacc_task_run_seconds_sum', { team: 'obs', status: 'completed' }),
    ).toBeGreaterThanOrEqual(0.3);
    const m = parseMetrics(text);
    expect(m.get('rediacc_task_wait_seconds')?.type).toBe('HISTOGRAM');
    expect(m.get('rediacc_task_attempts_total')?.type).toBe('COUNTER');
  });

  it('shows machine health and online state, and bridges up with their last contact', async () => {
    const text = await waitFor(async () => {
      const body = await metrics();
      return rawValue(body, 'rediacc_machine_memory_total_bytes', { machine: 'obs-1' }) !== undefined
        ? body
        : undefined;
    });
    const m = parseMetrics(text);
    expect(total(m, 'rediacc_machine_online', { machine: 'obs-1', team: 'obs', region: 'default' })).toBe(1);
    expect(total(m, 'rediacc_machine_memory_total_bytes', { machine: 'obs-1' })).toBeGreaterThan(0);
    expect(m.get('rediacc_machine_cpu_percent')?.metrics.some((s) => s.labels?.machine === 'obs-1')).toBe(
      true,
    );
    expect(m.get('rediacc_machine_load1')?.metrics.some((s) => s.labels?.machine === 'obs-1')).toBe(true);
    expect(total(m, 'rediacc_bridge_up', { bridge: 'embedded', region: 'default' })).toBe(1);
    const seenAt = total(m, 'rediacc_bridge_last_seen_timestamp_seconds', { bridge: 'embedded' });
    expect(Math.abs(seenAt - Date.now() / 1000)).toBeLessThan(60);
  });

  it('includes notification deliveries and Node process metrics', async () => {
    deliveriesTotal.inc({ channel_type: 'webhook', outcome: 'sent' });
    deliveriesTotal.inc({ channel_type: 'webhook', outcome: 'sent' });
    const m = parseMetrics(await metrics());
    expect(m.get('rediacc_notification_deliveries_total')?.type).toBe('COUNTER');
    expect(
      total(m, 'rediacc_notification_deliveries_total', { channel_type: 'webhook', outcome: 'sent' }),
    ).toBeGreaterThanOrEqual(2);
    expect(m.has('process_cpu_user_seconds_total')).toBe(true);
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });
});

describe('GET /metrics with --metrics-public', () => {
  it('answers without a token', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rediacc-test-'));
    const s = await startServer({
      dataDir,
      port: 0,
      adminToken: ADMIN_TOKEN,
      bridge: false,
      logger: pino({ level: 'silent' }),
      metricsPublic: true,
    });
    try {
      const res = await fetch(`${s.url}/metrics`);
      expect(res.status).toBe(200);
      const m = parseMetrics(await res.text());
      expect(m.has('rediacc_tasks_pending')).toBe(true);
      // The rest of the API still needs its tokens.
      expect((await fetch(`${s.url}/api/v1/tasks`)).status).toBe(401);
    } finally {
      await s.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
