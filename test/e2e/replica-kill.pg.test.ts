import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, freePort, rediacc, stop, waitForHealth } from '../helpers/cli.js';
import { waitFor } from '../helpers/server.js';
import { emptyDatabase } from '../helpers/store.js';

const TOKEN = 'rdc_replica_kill_test_token';
const TASKS = 2_000;

// Two server replicas on one PostgreSQL, two standalone bridges that know both; one replica is
// killed with -9 while the bridges drain the queue, then started again.
describe('kill -9 of a replica under load (PostgreSQL)', () => {
  let db: { url: string; drop(): Promise<void> };
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const urls: string[] = [];
  const ports: number[] = [];
  let outFile: string;

  const startReplica = async (i: number) => {
    const server = daemon(
      [
        'server',
        '--port',
        String(ports[i]),
        '--data-dir',
        dirs[i] as string,
        '--no-bridge',
        '--lease-seconds',
        '15',
        '--database-url',
        db.url,
      ],
      { env: { REDIACC_ADMIN_TOKEN: TOKEN } },
    );
    children.push(server.child);
    await waitForHealth(urls[i] as string);
    return server.child;
  };
  const api = async (url: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    db = await emptyDatabase();
    for (let i = 0; i < 2; i += 1) {
      dirs.push(mkdtempSync(join(tmpdir(), 'rediacc-replica-kill-')));
      ports.push(await freePort());
      urls.push(`http://127.0.0.1:${ports[i]}`);
    }
    outFile = join(dirs[0] as string, 'ids.txt');
    await Promise.all([0, 1].map((i) => startReplica(i)));
  }, 60_000);

  afterAll(async () => {
    for (const c of children.reverse()) await stop(c, 'SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await db?.drop();
  });

  it('every task ends completed exactly once', async () => {
    const [a, b] = urls as [string, string];
    const env = { REDIACC_URL: b, REDIACC_TOKEN: TOKEN };
    expect((await api(b, 'PATCH', '/machines/local', { concurrency: 16 })).status).toBe(200);
    // Each bridge knows both replicas, starting with a different one.
    for (const [name, list] of [
      ['b1', `${a},${b}`],
      ['b2', `${b},${a}`],
    ] as const) {
      const r = await rediacc(['create', 'bridge', name, '--region', 'default', '-o', 'json'], { env });
      expect(r.code).toBe(0);
      const bridge = daemon(['bridge', '--url', list, '--max-running', '8'], {
        env: { REDIACC_BRIDGE_TOKEN: JSON.parse(r.stdout).token },
      });
      children.push(bridge.child);
    }
    const created = await api(b, 'POST', '/tasks', {
      tasks: Array.from({ length: TASKS }, (_, i) => ({
        machine: 'local',
        command: `echo ${i} >> ${outFile}`,
      })),
    });
    expect(created.status).toBe(201);
    const batchId = created.body.batchId as string;
    const progress = async () => (await api(b, 'GET', `/batches/${batchId}`)).body as { done: number };

    await waitFor(async () => ((await progress()).done >= TASKS / 4 ? true : undefined), 120_000);
    const victim = children[0] as ChildProcess;
    await stop(victim, 'SIGKILL');
    await waitFor(async () => ((await progress()).done >= TASKS / 2 ? true : undefined), 120_000);
    await startReplica(0);

    const done = await waitFor(
      async () => {
        const batch = (await api(a, 'GET', `/batches/${batchId}`)).body;
        return batch.done === TASKS ? batch : undefined;
      },
      180_000,
      500,
    );
    expect(done.counts).toEqual({ completed: TASKS });
    const lines = readFileSync(outFile, 'utf8').trim().split('\n');
    const seen = new Map<string, number>();
    for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
    const missing = Array.from({ length: TASKS }, (_, i) => String(i)).filter((i) => !seen.has(i));
    const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
    expect({ missing, twice, lines: lines.length }).toEqual({ missing: [], twice: [], lines: TASKS });
    // One attempt each: nothing was lost and handed out again.
    let before: number | undefined;
    let attempts = 0;
    let listed = 0;
    for (;;) {
      const page = (
        await api(
          a,
          'GET',
          `/tasks?batch=${batchId}&limit=500${before === undefined ? '' : `&before=${before}`}`,
        )
      ).body as { seq: number; attempts: number; status: string }[];
      if (page.length === 0) break;
      listed += page.length;
      attempts += page.reduce((n, t) => n + t.attempts, 0);
      before = page.at(-1)?.seq;
    }
    expect({ listed, attempts }).toEqual({ listed: TASKS, attempts: TASKS });
    const stats = (await api(a, 'GET', '/queue/stats')).body;
    expect(stats.running + stats.assigned).toBe(0);
  }, 420_000);
});
