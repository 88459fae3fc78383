import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, freePort, processesWith, rediacc, stop, waitForHealth } from '../helpers/cli.js';
import { waitFor } from '../helpers/server.js';
import { emptyDatabase } from '../helpers/store.js';

const TOKEN = 'rdc_failover_test_token';

// Standalone bridges over HTTP; one is killed with -9 while it runs a task.
describe.each(['sqlite', 'postgres'] as const)('kill -9 of a standalone bridge (%s)', (kind) => {
  let db: { url: string; drop(): Promise<void> } | undefined;
  let dataDir: string;
  let url: string;
  const children: ChildProcess[] = [];
  const env = () => ({ REDIACC_URL: url, REDIACC_TOKEN: TOKEN });
  const cli = (...args: string[]) => rediacc(args, { env: env() });
  const json = async (...args: string[]) => {
    const r = await cli(...args, '-o', 'json');
    if (r.code !== 0) throw new Error(`rediacc ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rediacc-failover-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    if (kind === 'postgres') db = await emptyDatabase();
    const storeArgs = db === undefined ? [] : ['--database-url', db.url];
    const server = daemon(
      ['server', '--port', String(port), '--data-dir', dataDir, '--lease-seconds', '2', ...storeArgs],
      {
        env: { REDIACC_ADMIN_TOKEN: TOKEN },
      },
    );
    children.push(server.child);
    await waitForHealth(url);
  });

  afterAll(async () => {
    for (const c of children.reverse()) await stop(c, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    await db?.drop();
  });

  it('the other bridge finishes the retry and nothing stays running', async () => {
    await json('create', 'region', 'edge');
    await json('create', 'machine', 'edge-01', '--region', 'edge', '--concurrency', '4');
    const bridges: Record<string, ChildProcess> = {};
    for (const name of ['b1', 'b2']) {
      const created = await json('create', 'bridge', name, '--region', 'edge');
      expect(created).toMatchObject({ name, region: 'edge' });
      // The first URL leads nowhere: the bridge moves on to the next replica URL by itself.
      const b = daemon(['bridge', '--url', `http://127.0.0.1:9,${url}`], {
        env: { REDIACC_BRIDGE_TOKEN: created.token },
      });
      bridges[name] = b.child;
      children.push(b.child);
    }
    await waitFor(async () => {
      const list = (await json('list', 'bridges')) as { name: string; online: boolean }[];
      return list.filter((b) => !b.name.startsWith('embedded') && b.online).length === 2 ? true : undefined;
    });

    const marker = `failover-${process.pid}`;
    const task = await json(
      'create',
      'task',
      '--machine',
      'edge-01',
      '--retry-count',
      '2',
      '--command',
      `echo start-$REDIACC_ATTEMPT; sleep 3; echo ${marker}-done-$REDIACC_ATTEMPT`,
    );
    const first = await waitFor(async () => {
      const t = await json('get', 'task', task.taskId);
      return t.status === 'running' && t.attemptHistory[0]?.bridge ? t : undefined;
    });
    const victim = first.attemptHistory[0].bridge as string;
    bridges[victim]?.kill('SIGKILL');

    const done = await waitFor(async () => {
      const t = await json('get', 'task', task.taskId);
      return t.status === 'completed' ? t : undefined;
    }, 30_000);
    expect(done.attemptHistory).toHaveLength(2);
    expect(done.attemptHistory[0]).toMatchObject({ status: 'lost', reason: 'LOST', bridge: victim });
    expect(done.attemptHistory[1]).toMatchObject({ status: 'completed', exitCode: 0 });
    expect(done.attemptHistory[1].bridge).not.toBe(victim);
    const logs = await cli('logs', task.taskId);
    expect(logs.stdout).toContain(`${marker}-done-2`);
    const running = (await json('list', 'tasks', '--status', 'running')) as unknown[];
    expect(running).toEqual([]);
    const stats = await json('queue', 'stats');
    expect(stats.running + stats.assigned).toBe(0);
    // The killed bridge's command was an orphan; it finishes by itself (local transport).
    await waitFor(async () => ((await processesWith(marker)).length === 0 ? true : undefined), 10_000);
  });
});
