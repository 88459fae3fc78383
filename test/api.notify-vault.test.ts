import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alerts, createWebhook, startReceiver } from './helpers/notify.js';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { createTask, waitForEnd } from './helpers/tasks.js';

const NOTIFY = { pollIntervalMs: 50, conditionIntervalMs: 100, retryBaseSeconds: 0.2, leaseMs: 5000 };
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

// Channel secrets live in the client-side encrypted vault: the server opens
// them only with the master password it was started with.
describe('channel secrets the server cannot open', () => {
  it('without the master password: the test and every delivery fail and say why; nothing is sent', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rediacc-notify-'));
    const first = await startTestServer({ notify: NOTIFY, dataDir });
    const rx = await startReceiver();
    closers.push(rx.close);
    await createWebhook(first, 'default', 'hooks', rx.url, 'whsec-1');
    await first.close();
    rmSync(join(dataDir, 'master-password'));
    const t: TestServer = await startTestServer({ notify: NOTIFY, dataDir });
    closers.push(async () => {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const test = await t.api('POST', '/teams/default/channels/hooks/test');
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ ok: false, code: 'NOTIFY_NO_MASTER_PASSWORD' });
    expect(test.body.error).toContain('started without the vault master password');
    const id = await createTask(t, { command: 'exit 1', failureAction: 'alert' });
    await waitForEnd(t, id);
    const [a] = await waitFor(async () => {
      const list = await alerts(t);
      return list[0]?.deliveries[0]?.status === 'failed' ? list : undefined;
    });
    expect(a?.deliveries[0]).toMatchObject({ channel: 'hooks', attempts: 1 });
    expect(a?.deliveries[0]?.lastError).toContain('cannot read vault key channel/hooks/secret');
    expect(rx.received).toEqual([]);
  });

  it('with a wrong master password: the delivery fails with the decryption error', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rediacc-notify-'));
    const right = 'the right master password';
    const first = await startTestServer({ notify: NOTIFY, dataDir, masterPassword: right });
    const rx = await startReceiver();
    closers.push(rx.close);
    await createWebhook(first, 'default', 'hooks', rx.url, 'whsec-2', right);
    await first.close();
    const t = await startTestServer({ notify: NOTIFY, dataDir, masterPassword: 'a wrong master password' });
    closers.push(async () => {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const test = await t.api('POST', '/teams/default/channels/hooks/test');
    expect(test.body).toMatchObject({ ok: false, code: 'NOTIFY_SECRET_UNREADABLE' });
    expect(rx.received).toEqual([]);
  });
});
