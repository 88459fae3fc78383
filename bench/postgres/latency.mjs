// 2. Enqueue→start under light load: one task at a time, 10 ms apart, from just before the enqueue
// call to the moment the worker has it (rediacc: the claim answer reaches the simulated bridge, which
// would spawn it then; peers: the handler is called). All in this process, on one clock.
import { log, pct, round, sleep } from '../dispatch/lib.mjs';
import { createDatabase, rediaccCluster } from './cluster.mjs';
import { graphile, peerVersion, pgBoss } from './peers.mjs';
import { simBridge } from './sim-bridge.mjs';
import { CONCURRENCY } from './throughput.mjs';

const GAP_MS = 10;
export const SAMPLE_TIMEOUT_MS = 5_000;

/** Waiters for started tasks, by sample number. */
export function starts() {
  const waiting = new Map();
  return {
    started(i, at) {
      waiting.get(i)?.(at);
      waiting.delete(i);
    },
    expect(i) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(i);
          resolve(null);
        }, SAMPLE_TIMEOUT_MS);
        waiting.set(i, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    },
  };
}

/**
 * `warmup + count` samples, one at a time; returns the latencies (ms) and how many had not started
 * within SAMPLE_TIMEOUT_MS. Those count as SAMPLE_TIMEOUT_MS (a lower bound) in the percentiles.
 */
export async function sequential(s, warmup, count, enqueueOne) {
  const ms = [];
  let missed = 0;
  for (let i = 0; i < warmup + count; i++) {
    const started = s.expect(i);
    const t0 = performance.now();
    await enqueueOne(i);
    const at = await started;
    if (i >= warmup) {
      if (at === null) missed += 1;
      ms.push(at === null ? SAMPLE_TIMEOUT_MS : at - t0);
    }
    await sleep(GAP_MS);
  }
  return { ms, missed };
}

export const summary = ({ ms, missed }) => ({
  samples: ms.length,
  missed,
  p50Ms: round(pct(ms, 0.5), 2),
  p90Ms: round(pct(ms, 0.9), 2),
  p99Ms: round(pct(ms, 0.99), 2),
  maxMs: round(Math.max(...ms), 2),
});

/** rediacc: 2 replicas, one simulated bridge long-polling on each; tasks created on each in turn. */
async function rediaccLatency(warmup, count) {
  const c = await rediaccCluster('lat', { machines: ['lat'], concurrency: CONCURRENCY, bridges: 2 });
  const s = starts();
  const loops = c.tokens.map((token, i) =>
    simBridge(c.replicas[i].url, token, {
      max: CONCURRENCY,
      waitMs: 25_000,
      onTasks: (tasks, at) => {
        for (const t of tasks) s.started(Number(t.env.BENCH_I), at);
      },
    }),
  );
  try {
    await sleep(200); // both long polls open
    return summary(
      await sequential(s, warmup, count, (i) =>
        c.replicas[i % 2].api.post('/tasks', {
          machine: 'lat',
          command: 'true',
          env: { BENCH_I: String(i) },
        }),
      ),
    );
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
    await c.close();
  }
}

async function peerLatency(make, tag, config, warmup, count) {
  const db = await createDatabase(tag);
  let p;
  try {
    p = await make(db.url);
    const s = starts();
    await p.start({ concurrency: CONCURRENCY, ...config }, (data) => s.started(data.i, performance.now()));
    await sleep(200);
    return summary(await sequential(s, warmup, count, (i) => p.addOne({ i })));
  } finally {
    await p?.close();
    await db.drop();
  }
}

const line = (r) =>
  `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms (max ${r.maxMs}; ${r.samples} samples, ${r.missed} not started within 5 s)`;

/** Scenario 2. */
export async function latency({ quick }) {
  const warmup = quick ? 5 : 20;
  const count = quick ? 50 : 300;
  const result = { warmup, gapMs: GAP_MS, concurrency: CONCURRENCY };
  result.rediacc = await rediaccLatency(warmup, count);
  log(`rediacc: ${line(result.rediacc)}`);
  if (peerVersion('graphile-worker') !== null) {
    result['graphile-worker'] = await peerLatency(graphile, 'lgw', { localQueueSize: -1 }, warmup, count);
    log(`graphile-worker: ${line(result['graphile-worker'])}`);
  }
  if (peerVersion('pg-boss') !== null) {
    // pg-boss 10 has no LISTEN/NOTIFY: its workers poll, at most every 0.5 s.
    const cfg = { batchSize: 1, pollingIntervalSeconds: 0.5 };
    result['pg-boss'] = await peerLatency(pgBoss, 'lpb', cfg, warmup, Math.min(count, quick ? 20 : 100));
    log(`pg-boss: ${line(result['pg-boss'])}`);
  }
  const r = result.rediacc;
  const rows = [
    {
      figure: 'enqueue→start rediacc (2 replicas, light load)',
      value: `p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms${r.missed ? ` (${r.missed} of ${r.samples} took > 5 s)` : ''}`,
      target: 'p50 ≤ 4, p99 ≤ 10 ms',
      ok: r.p50Ms <= 4 && r.p99Ms <= 10 && r.missed === 0,
    },
  ];
  for (const peer of ['graphile-worker', 'pg-boss']) {
    const x = result[peer];
    if (x === undefined) continue;
    rows.push({
      figure: `enqueue→start ${peer} ${peerVersion(peer)}`,
      value: `p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms${x.missed ? ` (${x.missed} of ${x.samples} took > 5 s)` : ''}`,
      target: '',
      ok: null,
    });
  }
  return { result, rows };
}
