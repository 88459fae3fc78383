// graphile-worker and pg-boss, installed in bench/peers (cd bench/peers && npm install), each on a
// database of its own: enqueue in bulk, run workers with a handler, count durable completions.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, sleep } from '../dispatch/lib.mjs';
import { sql } from './cluster.mjs';

const PEERS = join(ROOT, 'bench', 'peers');
const require = createRequire(join(PEERS, 'package.json'));

/** The installed version of a peer package, or null when bench/peers has not been installed. */
export function peerVersion(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return null;
  }
}

export async function loadPeer(name) {
  if (peerVersion(name) === null) {
    throw new Error(`${name} is not installed: cd bench/peers && npm install`);
  }
  const mod = await import(pathToFileURL(require.resolve(name)).href);
  return mod.default ?? mod;
}

/**
 * Waits until the handler ran `n` times (`handled()`, in process), then polls `count()` (durable
 * completions in the database) until it reaches `n`; resolves with performance.now() then.
 */
async function until(count, n, deadline, label, handled) {
  while (handled() < n) {
    if (performance.now() > deadline)
      throw new Error(`${label}: handler ran ${handled()}/${n} times at the deadline`);
    await sleep(5);
  }
  for (;;) {
    const c = await count();
    if (c >= n) return performance.now();
    if (performance.now() > deadline) throw new Error(`${label}: ${c}/${n} done at the deadline`);
    await sleep(n - c > 1000 ? 50 : 5);
  }
}

/**
 * graphile-worker on `dbUrl`: `enqueue(n, payload)` adds jobs in one SQL statement;
 * `start(opts, handler)` runs a worker pool; `done(n)` waits until the job table is empty
 * (completed jobs are deleted).
 */
export async function graphile(dbUrl) {
  const gw = await import(pathToFileURL(require.resolve('graphile-worker')).href);
  const logger = new gw.Logger(() => () => {});
  await gw.runMigrations({ connectionString: dbUrl, logger });
  let runner = null;
  return {
    name: 'graphile-worker',
    version: peerVersion('graphile-worker'),
    async enqueue(n, priority = 0) {
      await sql(
        dbUrl,
        `SELECT graphile_worker.add_jobs(ARRAY(
           SELECT ROW('noop', json_build_object('i', i), NULL, NULL, NULL, NULL, $2::int, NULL)::graphile_worker.job_spec
           FROM generate_series(1, $1::int) i))`,
        [n, priority],
      );
    },
    /** One job now through the library's own addJob (as an application adds one). */
    async addOne(payload, priority) {
      await this.utils.addJob('noop', payload, priority === undefined ? {} : { priority });
    },
    utils: await gw.makeWorkerUtils({ connectionString: dbUrl, logger }),
    async start({ concurrency, localQueueSize = -1, completeJobBatchDelay = -1 }, handler) {
      runner = await gw.run({
        connectionString: dbUrl,
        concurrency,
        maxPoolSize: Math.max(10, concurrency + 2),
        noHandleSignals: true,
        pollInterval: 2000,
        logger,
        taskList: { noop: async (payload) => handler(payload) },
        preset: { worker: { localQueue: { size: localQueueSize }, completeJobBatchDelay } },
      });
    },
    count: async () => Number((await sql(dbUrl, 'SELECT count(*) AS n FROM graphile_worker.jobs'))[0].n),
    async done(n, deadline, handled) {
      return until(async () => n - (await this.count()), n, deadline, 'graphile-worker', handled);
    },
    async close() {
      await runner?.stop();
      runner = null;
      await this.utils.release();
    },
  };
}

/**
 * pg-boss on `dbUrl` (queue `noop`): `enqueue(n)` inserts jobs 10,000 a call; `start(opts, handler)`
 * runs `concurrency` workers of `batchSize` (pg-boss 10 has no LISTEN/NOTIFY: it polls, at least
 * every 0.5 s); `done(n)` waits until n jobs are in state completed.
 */
export async function pgBoss(dbUrl) {
  const PgBoss = await loadPeer('pg-boss');
  const boss = new PgBoss({
    connectionString: dbUrl,
    max: 10,
    supervise: false,
    schedule: false,
    migrate: true,
  });
  let lastError = null;
  boss.on('error', (err) => {
    lastError = err;
  });
  await boss.start();
  await boss.createQueue('noop');
  const workers = [];
  return {
    name: 'pg-boss',
    version: peerVersion('pg-boss'),
    lastError: () => lastError,
    async enqueue(n, priority = 0) {
      for (let done = 0; done < n; done += 10_000) {
        const size = Math.min(10_000, n - done);
        await boss.insert(
          Array.from({ length: size }, (_, i) => ({ name: 'noop', data: { i: done + i }, priority })),
        );
      }
    },
    async addOne(payload, priority) {
      await boss.send('noop', payload, priority === undefined ? {} : { priority });
    },
    async start({ concurrency, batchSize = 1, pollingIntervalSeconds = 0.5 }, handler) {
      for (let w = 0; w < concurrency; w++) {
        workers.push(
          await boss.work('noop', { batchSize, pollingIntervalSeconds }, async (jobs) => {
            for (const job of jobs) await handler(job.data);
          }),
        );
      }
    },
    count: async () =>
      Number(
        (
          await sql(dbUrl, `SELECT count(*) AS n FROM pgboss.job WHERE name = 'noop' AND state = 'completed'`)
        )[0].n,
      ),
    async done(n, deadline, handled) {
      return until(() => this.count(), n, deadline, 'pg-boss', handled);
    },
    async close() {
      await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
    },
  };
}
