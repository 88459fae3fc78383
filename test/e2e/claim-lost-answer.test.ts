import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, freePort, rediacc, stop, waitForHealth } from '../helpers/cli.js';
import { waitFor } from '../helpers/server.js';

const TOKEN = 'rdc_lost_claim_test_token';

/**
 * An HTTP relay between a bridge and the server that swallows the first claim
 * answers carrying tasks: the server has handed the tasks out, the bridge
 * never hears of it (as when a replica dies between its commit and its answer).
 */
function lossyRelay(upstreamPort: number, drops: { left: number }): Server {
  return createServer((req, res) => {
    const up = request(
      { host: '127.0.0.1', port: upstreamPort, path: req.url, method: req.method, headers: req.headers },
      (upRes) => {
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = Buffer.concat(chunks);
          if (req.url === '/api/v1/bridge/claim' && drops.left > 0 && body.includes('"taskId"')) {
            drops.left -= 1;
            res.destroy();
            return;
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          res.end(body);
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
}

describe('a claim answer lost on the way to the bridge', () => {
  let dataDir: string;
  let url: string;
  let relay: Server;
  const drops = { left: 2 };
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'rediacc-lost-claim-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const server = daemon(
      ['server', '--port', String(port), '--data-dir', dataDir, '--no-bridge', '--lease-seconds', '3'],
      { env: { REDIACC_ADMIN_TOKEN: TOKEN } },
    );
    children.push(server.child);
    await waitForHealth(url);
    relay = lossyRelay(port, drops);
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
  });

  afterAll(async () => {
    for (const c of children.reverse()) await stop(c, 'SIGKILL');
    relay?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is handed out again on the retry: the tasks run once, none is lost', async () => {
    const env = { REDIACC_URL: url, REDIACC_TOKEN: TOKEN };
    const json = async (...args: string[]) => {
      const r = await rediacc([...args, '-o', 'json'], { env });
      if (r.code !== 0) throw new Error(`rediacc ${args.join(' ')} failed: ${r.stderr}`);
      return JSON.parse(r.stdout);
    };
    const created = await json('create', 'bridge', 'b1', '--region', 'default');
    const address = relay.address() as { port: number };
    const bridge = daemon(['bridge', '--url', `http://127.0.0.1:${address.port}`], {
      env: { REDIACC_BRIDGE_TOKEN: created.token },
    });
    children.push(bridge.child);
    const tasks: { taskId: string }[] = [];
    for (let i = 0; i < 3; i += 1) {
      tasks.push(await json('create', 'task', '--machine', 'local', '--command', `echo run-${i}`));
    }
    const ended = await waitFor(
      async () => {
        const all = await Promise.all(tasks.map((t) => json('get', 'task', t.taskId)));
        return all.every((t) => t.status === 'completed' || t.status === 'failed') ? all : undefined;
      },
      30_000,
      200,
    );
    expect(drops.left).toBe(0);
    for (const t of ended) {
      expect(t).toMatchObject({ status: 'completed', attempts: 1 });
      expect(t.attemptHistory).toHaveLength(1);
    }
  });
});
