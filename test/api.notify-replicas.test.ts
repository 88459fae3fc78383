import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alerts, createWebhook, type Received, signatureValid, startReceiver } from './helpers/notify.js';
import { startTestServer, type TestServer, waitFor } from './helpers/server.js';
import { emptyDatabase } from './helpers/store.js';
import { createTask, waitForEnd } from './helpers/tasks.js';

const MASTER = 'replica test master password';
const SECRET = 'whsec-replicas';
const TASKS = 30;
// Both replicas poll every 20 ms: they contend for every delivery.
const NOTIFY = { pollIntervalMs: 20, conditionIntervalMs: 50, retryBaseSeconds: 0.2, leaseMs: 5000 };

let db: { url: string; drop(): Promise<void> };
let a: TestServer;
let b: TestServer;
let rx: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  db = await emptyDatabase();
  a = await startTestServer({ databaseUrl: db.url, masterPassword: MASTER, notify: NOTIFY });
  b = await startTestServer({ databaseUrl: db.url, masterPassword: MASTER, notify: NOTIFY });
  rx = await startReceiver();
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await rx?.close();
  await db?.drop();
});

describe('two server replicas on one PostgreSQL database', () => {
  it(`deliver each of ${TASKS} failure notifications exactly once between them`, async () => {
    await createWebhook(a, 'default', 'hooks', rx.url, SECRET, MASTER);
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i += 1) {
      ids.push(
        await createTask(i % 2 === 0 ? a : b, { command: `exit ${1 + (i % 5)}`, failureAction: 'alert' }),
      );
    }
    for (const id of ids) expect((await waitForEnd(a, id)).status).toBe('failed');
    const sent = await waitFor(async () => {
      const list = await alerts(b);
      return list.length === TASKS && list.every((x) => x.deliveries[0]?.status === 'sent')
        ? list
        : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(rx.received).toHaveLength(TASKS);
    const byDelivery = new Map<string, Received[]>();
    for (const r of rx.received) {
      const id = r.headers['x-rediacc-delivery'] as string;
      byDelivery.set(id, [...(byDelivery.get(id) ?? []), r]);
    }
    expect(byDelivery.size).toBe(TASKS);
    expect(rx.received.every((r) => signatureValid(r, SECRET))).toBe(true);
    expect(new Set(rx.received.map((r) => (r.json.alert as { taskId: string }).taskId))).toEqual(
      new Set(ids),
    );
    expect(sent.every((x) => x.deliveries.length === 1 && x.deliveries[0]?.attempts === 1)).toBe(true);
  });
});
