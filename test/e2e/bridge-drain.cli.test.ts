import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, freePort, processesWith, rediacc, stop, waitForHealth } from '../helpers/cli.js';
import { waitFor } from '../helpers/server.js';

const TOKEN = 'rdc_drain_test_token';

// SIGTERM to a standalone bridge: it stops claiming, lets running commands finish within
// --drain-seconds, and stops the rest as lost attempts (not failures of the command).
describe('a bridge shutting down drains its running commands', () => {
  let dataDir: string;
  let url: string;
  const children: ChildProcess[] = [];
  const env = () => ({ REDIACC_URL: url, REDIACC_TOKEN: TOKEN });
  const json = async (...args: string[]) => {
    const r = await rediacc([...args, '-o', 'json'], { env: env() });
    if (r.code !== 0) throw new Error(`rediacc ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const bridge = async (name: string, drainSeconds: string) => {
    const created = await json('create', 'bridge', name, '--region', 'default');
    const b = daemon(['bridge', '--url', url, '--drain-seconds', drainSeconds], {
      env: { REDIACC_BRIDGE_TOKEN: created.token },
    });
    children.push(b.child);
    return b.child;
  };
  const task = async (command: string) => {
    const t = await json('create', 'task', '--machine', 'local', '--command', command);
    await waitFor(async () =>
      (await json('get', 'task', t.taskId)).status === 'running' ? true : undefined,
    );
    return t.taskId as string;
  };
  const exited = (c: ChildProcess) =>
    new Promise<number | null>((r) =>
      c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code)),
    );

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rediacc-drain-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const server = daemon(['server', '--port', String(port), '--data-dir', dataDir, '--no-bridge'], {
      env: { REDIACC_ADMIN_TOKEN: TOKEN },
    });
    children.push(server.child);
    await waitForHealth(url);
  });

  afterAll(async () => {
    for (const c of children.reverse()) await stop(c, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a command that ends within the drain time completes', async () => {
    const b = await bridge('drain-a', '20');
    const id = await task('sleep 2; echo finished-in-time');
    b.kill('SIGTERM');
    expect(await exited(b)).toBe(0);
    const t = await json('get', 'task', id);
    expect(t).toMatchObject({ status: 'completed', attempts: 1 });
    const logs = await rediacc(['logs', id], { env: env() });
    expect(logs.stdout).toContain('finished-in-time');
  });

  it('a command still running at the end of the drain is stopped, its attempt lost', async () => {
    const marker = `drain-marker-${process.pid}`;
    const b = await bridge('drain-b', '1');
    const id = await task(`sleep 300; echo ${marker}`);
    b.kill('SIGTERM');
    expect(await exited(b)).toBe(0);
    const t = await json('get', 'task', id);
    expect(t).toMatchObject({ status: 'failed', reason: 'LOST' });
    expect(t.attemptHistory[0]).toMatchObject({ status: 'lost', reason: 'LOST' });
    const logs = await rediacc(['logs', id], { env: env() });
    expect(logs.stdout + logs.stderr).toContain('the bridge shut down');
    expect(await processesWith(marker)).toEqual([]);
  });
});
