import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody } from './helpers/api.js';
import {
  alerts,
  createWebhook,
  type Received,
  seal,
  signatureValid,
  startReceiver,
  startSmtp,
} from './helpers/notify.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { createTask, waitForEnd } from './helpers/tasks.js';

let t: TestServer;
const NOTIFY = { pollIntervalMs: 50, conditionIntervalMs: 100, retryBaseSeconds: 0.2, leaseMs: 5000 };
const SECRET = 'whsec-test-0123456789';
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  t = await startTestServer({ notify: NOTIFY });
});
afterAll(async () => {
  for (const c of closers) await c();
  await t.close();
});

async function receiver(answers: number[] = [200], onRequest?: (r: Received, all: Received[]) => void) {
  const r = await startReceiver(answers, onRequest);
  closers.push(r.close);
  return r;
}

/** A team of its own with a machine the embedded bridge runs. */
async function team(name: string): Promise<string> {
  expect((await t.api('POST', '/teams', { name })).status).toBe(201);
  expect((await t.api('POST', '/machines', { name: `${name}-m`, team: name })).status).toBe(201);
  return `${name}-m`;
}

const real = (rs: Received[]) => rs.filter((r) => r.json.test !== true);
const settle = () => new Promise((r) => setTimeout(r, 600)); // 12 delivery rounds

describe('notifications through the API', () => {
  it('a task failing 3 times (retryCount 2, failureAction alert) sends exactly one signed webhook', async () => {
    const machine = await team('alpha');
    const rx = await receiver();
    await createWebhook(t, 'alpha', 'hooks', `${rx.url}/hook`, SECRET);
    const id = await createTask(t, {
      machine,
      command: 'exit 3',
      retryCount: 2,
      retryDelay: 0,
      failureAction: 'alert',
    });
    expect(await waitForEnd(t, id)).toMatchObject({ status: 'failed', attempts: 3 });
    await waitFor(async () => (rx.received.length > 0 ? true : undefined));
    const [alert] = await waitFor(async () => {
      const list = await alerts(t, 'alpha');
      return list[0]?.deliveries[0]?.status === 'sent' ? list : undefined;
    });
    await settle();
    expect(rx.received).toHaveLength(1);
    const got = rx.received[0] as Received;
    expect(signatureValid(got, SECRET)).toBe(true);
    expect(signatureValid(got, 'another secret')).toBe(false);
    expect(signatureValid({ ...got, body: got.body.replace('exit', 'exiT') }, SECRET)).toBe(false);
    expect(got.path).toBe('/hook');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['x-rediacc-event']).toBe('task_failed');
    expect(got.headers['x-rediacc-attempt']).toBe('1');
    expect(got.headers['x-rediacc-delivery']).toBe(got.json.deliveryId);
    expect(got.json).toMatchObject({
      channel: 'hooks',
      test: false,
      alert: { kind: 'task_failed', team: 'alpha', taskId: id, machine, title: 'Task failed' },
    });
    expect(alert).toMatchObject({
      kind: 'task_failed',
      taskId: id,
      deliveryNote: null,
      deliveries: [{ channel: 'hooks', status: 'sent', attempts: 1, deliveryId: got.json.deliveryId }],
    });
  });

  it('a receiver answering 500 twice, then 200, gets the notification once (same delivery id)', async () => {
    const machine = await team('beta');
    const rx = await receiver([500, 500, 200]);
    await createWebhook(t, 'beta', 'flaky', rx.url, SECRET);
    const id = await createTask(t, { machine, command: 'exit 1', failureAction: 'alert' });
    await waitForEnd(t, id);
    const [retrying] = await waitFor(async () => {
      const list = await alerts(t, 'beta');
      return list[0]?.deliveries[0]?.status === 'retrying' ? list : undefined;
    });
    expect(retrying?.deliveries[0]).toMatchObject({
      attempts: 1,
      lastError: 'HTTP 500 from the receiver: status 500',
    });
    await waitFor(async () =>
      (await alerts(t, 'beta'))[0]?.deliveries[0]?.status === 'sent' ? true : undefined,
    );
    await settle();
    expect(rx.received.map((r) => [r.status, r.headers['x-rediacc-attempt']])).toEqual([
      [500, '1'],
      [500, '2'],
      [200, '3'],
    ]);
    expect(new Set(rx.received.map((r) => r.headers['x-rediacc-delivery'])).size).toBe(1);
    expect(rx.received.every((r) => signatureValid(r, SECRET))).toBe(true);
    expect((await alerts(t, 'beta'))[0]?.deliveries[0]).toMatchObject({ status: 'sent', attempts: 3 });
    const metrics = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const text = await metrics.text();
    const count = (outcome: string) =>
      Number(
        new RegExp(
          `^rediacc_notification_deliveries_total\\{channel_type="webhook",outcome="${outcome}"\\} (\\d+)$`,
          'm',
        ).exec(text)?.[1] ?? 0,
      );
    expect(count('retry')).toBeGreaterThanOrEqual(2);
    expect(count('sent')).toBeGreaterThanOrEqual(1);
  });

  it('a 4xx answer fails at once; a receiver that is gone is retried', async () => {
    const machine = await team('gamma');
    const rx = await receiver([404]);
    await createWebhook(t, 'gamma', 'wrong', rx.url, SECRET);
    const gone = await receiver();
    await gone.close();
    await createWebhook(t, 'gamma', 'gone', gone.url, SECRET);
    const id = await createTask(t, { machine, command: 'exit 1', failureAction: 'alert' });
    await waitForEnd(t, id);
    const ds = await waitFor(async () => {
      const d = (await alerts(t, 'gamma'))[0]?.deliveries ?? [];
      return d.length === 2 && d[0]?.status === 'failed' && d[1]?.status === 'retrying' && d[1].attempts >= 2
        ? d
        : undefined;
    });
    expect(ds[0]).toMatchObject({
      channel: 'wrong',
      attempts: 1,
      lastError: 'HTTP 404 from the receiver: status 404',
    });
    expect(ds[1]).toMatchObject({
      channel: 'gone',
      lastError: expect.stringContaining('could not reach the receiver'),
    });
    expect(rx.received).toHaveLength(1);
  });

  it('a Slack channel posts text and blocks to the URL kept in the vault', async () => {
    const machine = await team('delta');
    const rx = await receiver();
    const url = `${rx.url}/services/T000/B000/XXXX`;
    const created = await t.api('POST', '/teams/delta/channels', {
      name: 'chat',
      type: 'slack',
      secrets: [
        { key: 'url', ciphertext: await seal(t, 'delta', 'channel/chat/url', url), expectedVersion: 0 },
      ],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: 'slack', url: null, secretKeys: ['channel/chat/url'] });
    expect(JSON.stringify((await t.api('GET', '/channels?team=delta')).body)).not.toContain('XXXX');
    const id = await createTask(t, { machine, command: 'exit 2', failureAction: 'alert' });
    await waitForEnd(t, id);
    const got = await waitFor(async () => rx.received[0]);
    expect(got.path).toBe('/services/T000/B000/XXXX');
    expect(got.json.text).toMatch(/^\[rediacc\] Task failed: /);
    const blocks = got.json.blocks as { type: string }[];
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(JSON.stringify(blocks)).toContain(id);
  });

  it('an email channel delivers to an SMTP server with the login from the vault', async () => {
    const machine = await team('epsilon');
    const smtp = await startSmtp({ user: 'mailer', pass: 'smtp-pass-42' });
    closers.push(smtp.close);
    const body = {
      name: 'mail',
      type: 'email',
      smtp: { host: '127.0.0.1', port: smtp.port, tls: 'none', user: 'mailer' },
      from: 'rediacc@example.com',
      to: ['ops@example.com', 'oncall@example.com'],
      secrets: [
        {
          key: 'password',
          ciphertext: await seal(t, 'epsilon', 'channel/mail/password', 'smtp-pass-42'),
          expectedVersion: 0,
        },
      ],
    };
    expect((await t.api('POST', '/teams/epsilon/channels', body)).status).toBe(201);
    const test = await t.api('POST', '/teams/epsilon/channels/mail/test');
    expect(test.body).toMatchObject({ ok: true, type: 'email', error: null });
    const id = await createTask(t, { machine, command: 'exit 5', failureAction: 'alert' });
    await waitForEnd(t, id);
    await waitFor(async () => (smtp.mails.length >= 2 ? true : undefined));
    const mail = smtp.mails[1];
    expect(mail).toMatchObject({
      from: 'rediacc@example.com',
      to: ['ops@example.com', 'oncall@example.com'],
    });
    expect(mail?.user).toBe('mailer');
    expect(mail?.raw).toMatch(/^Subject: \[rediacc\] Task failed \(epsilon\)/m);
    expect(mail?.raw).toContain(id);
    const [alert] = await waitFor(async () => {
      const list = await alerts(t, 'epsilon');
      return list[0]?.deliveries[0]?.status === 'sent' ? list : undefined;
    });
    expect(mail?.raw).toContain(`X-Rediacc-Delivery: ${alert?.deliveries[0]?.deliveryId}`);
    expect(smtp.mails[0]?.raw).toContain('Test notification');
  });

  it('channel test reports success and failure; a muted rule sends nothing and says why', async () => {
    const machine = await team('zeta');
    const ok = await receiver();
    const bad = await receiver([503]);
    await createWebhook(t, 'zeta', 'ok', ok.url, SECRET);
    await createWebhook(t, 'zeta', 'bad', bad.url, SECRET);
    const good = await t.api('POST', '/teams/zeta/channels/ok/test');
    expect(good.body).toMatchObject({ channel: 'ok', ok: true, error: null, code: null });
    expect(ok.received[0]?.json).toMatchObject({ test: true, alert: { kind: 'test', team: 'zeta' } });
    expect(signatureValid(ok.received[0] as Received, SECRET)).toBe(true);
    const failed = await t.api('POST', '/teams/zeta/channels/bad/test');
    expect(failed.body).toMatchObject({ ok: false, error: 'HTTP 503 from the receiver: status 503' });
    expectErrorBody(await t.api('POST', '/teams/zeta/channels/nope/test'), 404, 'CHANNEL_NOT_FOUND');

    const off = await t.api('PATCH', '/teams/zeta/alert-rules', { taskFailed: false });
    expect(off.body.rules).toMatchObject({ taskFailed: false, machineOffline: true, queueThreshold: 1000 });
    const id = await createTask(t, { machine, command: 'exit 1', failureAction: 'alert' });
    await waitForEnd(t, id);
    const [a] = await waitFor(async () => {
      const list = await alerts(t, 'zeta');
      return list[0]?.deliveryNote?.startsWith('not sent') ? list : undefined;
    });
    expect(a).toMatchObject({
      taskId: id,
      deliveries: [],
      deliveryNote: 'not sent: alerts of this kind are turned off for the team',
    });
    await settle();
    expect(real(ok.received)).toEqual([]);
  });

  it('queue length above the threshold alerts, then recovers; so does a task waiting too long', async () => {
    await team('eta');
    const rx = await receiver();
    await createWebhook(t, 'eta', 'hooks', rx.url, SECRET);
    // A machine no bridge serves: its tasks wait.
    expect((await t.api('POST', '/regions', { name: 'far' })).status).toBe(201);
    expect((await t.api('POST', '/machines', { name: 'eta-far', team: 'eta', region: 'far' })).status).toBe(
      201,
    );
    const rules = await t.api('PATCH', '/teams/eta/alert-rules', {
      queueThreshold: 2,
      queueMinutes: 0,
      waitThresholdMinutes: 0.01,
    });
    expect(rules.status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await createTask(t, { machine: 'eta-far', command: 'true' }));
    const kinds = () =>
      real(rx.received)
        .map((r) => (r.json.alert as { kind: string }).kind)
        .sort();
    await waitFor(async () => (kinds().length >= 2 ? true : undefined));
    expect(kinds()).toEqual(['queue_high', 'task_wait_high']);
    const wait = real(rx.received).find((r) => (r.json.alert as { kind: string }).kind === 'task_wait_high');
    expect(wait?.json.alert).toMatchObject({ taskId: ids[0], machine: 'eta-far' });
    for (const id of ids) expect((await t.api('POST', `/tasks/${id}/cancel`)).status).toBe(200);
    await waitFor(async () => (kinds().length >= 4 ? true : undefined));
    await settle();
    expect(kinds()).toEqual(['queue_high', 'queue_recovered', 'task_wait_high', 'task_wait_recovered']);
    expect(real(rx.received).every((r) => signatureValid(r, SECRET))).toBe(true);
  });

  it('bad input: a clear error and nothing created', async () => {
    await team('theta');
    const secrets = [
      { key: 'secret', ciphertext: await seal(t, 'theta', 'channel/x/secret', 's'), expectedVersion: 0 },
    ];
    const post = (body: Record<string, unknown>, teamName = 'theta') =>
      t.api('POST', `/teams/${teamName}/channels`, { name: 'x', secrets, ...body });
    const e1 = expectErrorBody(
      await post({ type: 'sms', url: 'http://h/' }),
      400,
      'VALIDATION_FAILED',
      'type',
    );
    expect(e1.message).toContain("unknown channel type 'sms'");
    expectErrorBody(await post({ type: 'webhook', url: 'ftp://h/x' }), 400, 'VALIDATION_FAILED', 'url');
    expectErrorBody(await post({ type: 'webhook', url: 'not a url' }), 400, 'VALIDATION_FAILED', 'url');
    expectErrorBody(await post({ type: 'webhook', url: 'http://u:p@h/' }), 400, 'VALIDATION_FAILED', 'url');
    expectErrorBody(await post({ type: 'webhook' }), 400, 'VALIDATION_FAILED', 'url');
    expectErrorBody(
      await post({ type: 'webhook', url: 'http://h/', secrets: [] }),
      400,
      'VALIDATION_FAILED',
      'secrets',
    );
    expectErrorBody(
      await post({ type: 'email', smtp: { host: 'h', port: 25, tls: 'maybe' } }),
      400,
      'VALIDATION_FAILED',
      'smtp.tls',
    );
    expectErrorBody(await post({ type: 'webhook', url: 'http://h/' }, 'no-such-team'), 404, 'TEAM_NOT_FOUND');
    expectErrorBody(await post({ type: 'webhook', url: 'http://h/', extra: 1 }), 400, 'VALIDATION_FAILED');
    expect((await t.api('GET', '/channels?team=theta')).body).toEqual([]);
    expect((await t.api('GET', '/teams/theta/vault')).body).toEqual([]);
    expect((await post({ type: 'webhook', url: 'http://h/' })).status).toBe(201);
    expectErrorBody(await post({ type: 'webhook', url: 'http://h/' }), 409, 'CHANNEL_EXISTS');

    expectErrorBody(
      await t.api('PATCH', '/teams/theta/alert-rules', { queueThreshold: 0 }),
      400,
      'VALIDATION_FAILED',
    );
    expectErrorBody(
      await t.api('PATCH', '/teams/theta/alert-rules', { bogus: true }),
      400,
      'VALIDATION_FAILED',
    );
    expectErrorBody(
      await t.api('PATCH', '/teams/theta/alert-rules', { priorityThresholds: { 7: 1 } }),
      400,
      'VALIDATION_FAILED',
    );
    expectErrorBody(
      await t.api('PATCH', '/teams/nope/alert-rules', { taskWait: false }),
      404,
      'TEAM_NOT_FOUND',
    );
    expect((await t.api('GET', '/teams/theta/alert-rules')).body.rules).toMatchObject({
      queueThreshold: 1000,
      priorityThresholds: {},
      taskWait: true,
    });
    const del = await t.api('DELETE', '/teams/theta/channels/x');
    expect(del.status).toBe(204);
    expect((await t.api('GET', '/teams/theta/vault')).body).toEqual([]);
    expectErrorBody(await t.api('DELETE', '/teams/theta/channels/x'), 404, 'CHANNEL_NOT_FOUND');
  });
});
