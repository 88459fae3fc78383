// 5. A deep queue: claim latency (claim max 1, then its report, timed apart) and GET /queue/stats
// time at ~1,000 and at ~1,000,000 pending tasks, on 2 replicas. The queue is filled through the
// batch create API (10,000 tasks a request, one request per replica at a time).
import { ADMIN_TOKEN, call, log, pct, round } from '../dispatch/lib.mjs';
import { fmt } from '../lib/report.mjs';
import { enqueue, rediaccCluster, sql } from './cluster.mjs';
import { post } from './sim-bridge.mjs';

const MACHINE = 'deep';
const f = (ms) => ({ p50Ms: round(pct(ms, 0.5), 2), p99Ms: round(pct(ms, 0.99), 2), samples: ms.length });

/** `count` rounds of claim {max:1, waitMs:0}, then a report of exit 0 for it; both timed. */
async function claims(url, token, count) {
  const claimMs = [];
  const reportMs = [];
  for (let i = 0; i < count; i++) {
    let t0 = performance.now();
    const c = await post(url, token, '/bridge/claim', { max: 1, waitMs: 0 });
    claimMs.push(performance.now() - t0);
    if (c.tasks.length !== 1) throw new Error(`claim returned ${c.tasks.length} tasks with tasks pending`);
    const [t] = c.tasks;
    t0 = performance.now();
    await post(url, token, '/bridge/report', {
      results: [
        { taskId: t.taskId, attempt: t.attempt, at: Date.now(), exitCode: 0, signal: null, reason: null },
      ],
    });
    reportMs.push(performance.now() - t0);
  }
  return { claim: f(claimMs), report: f(reportMs) };
}

/** `count` GET /queue/stats, on each replica in turn; returns their times and the last answer. */
async function stats(replicas, count) {
  const ms = [];
  let last;
  for (let i = 0; i < count; i++) {
    const r = replicas[i % replicas.length];
    const t0 = performance.now();
    const res = await call(r.url, ADMIN_TOKEN, 'GET', '/queue/stats');
    ms.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`queue stats: HTTP ${res.status}`);
    last = res.body;
  }
  return { ...f(ms), pending: Object.values(last.pending).reduce((a, b) => a + b, 0) };
}

async function measure(c, token, nClaims, nStats, label) {
  await sql(c.db.url, 'ANALYZE');
  await claims(c.replicas[0].url, token, 20); // warm-up
  const cl = await claims(c.replicas[0].url, token, nClaims);
  await stats(c.replicas, 10); // warm-up
  const st = await stats(c.replicas, nStats);
  log(
    `${label}: ${fmt(st.pending)} pending; claim p50 ${cl.claim.p50Ms} ms, p99 ${cl.claim.p99Ms} ms; ` +
      `report p50 ${cl.report.p50Ms} ms; queue stats p50 ${st.p50Ms} ms, p99 ${st.p99Ms} ms`,
  );
  return { pending: st.pending, ...cl, stats: st };
}

/** Scenario 5. */
export async function scale({ quick }) {
  const fillTo = quick ? 100_000 : 1_000_000;
  const nClaims = quick ? 50 : 100;
  const nStats = quick ? 30 : 50;
  const c = await rediaccCluster('scale', { machines: [MACHINE], concurrency: 10_000, bridges: 1 });
  try {
    const [token] = c.tokens;
    const small = 1_000 + 20 + nClaims;
    await enqueue(c.replicas, small, { command: 'true' }, [MACHINE]);
    const atSmall = await measure(c, token, nClaims, nStats, 'small queue');
    const t0 = performance.now();
    const fill = fillTo - atSmall.pending + 20 + nClaims;
    await enqueue(c.replicas, fill, { command: 'true' }, [MACHINE]);
    const createPerSec = fill / ((performance.now() - t0) / 1000);
    log(
      `filled ${fmt(fill)} tasks through the API at ${fmt(createPerSec)} tasks/s (2 replicas, 10,000 a request)`,
    );
    const atFull = await measure(c, token, nClaims, nStats, 'deep queue');
    const ratio = {
      p50: round(atFull.claim.p50Ms / atSmall.claim.p50Ms, 2),
      p99: round(atFull.claim.p99Ms / atSmall.claim.p99Ms, 2),
    };
    const result = {
      atSmall,
      atFull,
      claimRatio: ratio,
      createPerSec: Math.round(createPerSec),
      filledVia: 'API',
    };
    const rows = [
      {
        figure: `claim max 1 at ${fmt(atSmall.pending)} pending`,
        value: `p50 ${atSmall.claim.p50Ms} ms, p99 ${atSmall.claim.p99Ms} ms`,
        target: '',
        ok: null,
      },
      {
        figure: `claim max 1 at ${fmt(atFull.pending)} pending`,
        value: `p50 ${atFull.claim.p50Ms} ms, p99 ${atFull.claim.p99Ms} ms`,
        target: '',
        ok: null,
      },
      {
        figure: 'claim latency ratio (deep / small)',
        value: `p50 ×${ratio.p50}, p99 ×${ratio.p99}`,
        target: '≤ ×2',
        ok: ratio.p50 <= 2 && ratio.p99 <= 2,
      },
      {
        figure: `queue stats at ${fmt(atSmall.pending)} pending`,
        value: `p50 ${atSmall.stats.p50Ms} ms, p99 ${atSmall.stats.p99Ms} ms`,
        target: '',
        ok: null,
      },
      {
        figure: `queue stats at ${fmt(atFull.pending)} pending`,
        value: `p50 ${atFull.stats.p50Ms} ms, p99 ${atFull.stats.p99Ms} ms`,
        target: '≤ 50 ms',
        ok: atFull.stats.p99Ms <= 50,
      },
      {
        figure: `batch create through the API (to ${fmt(atFull.pending)})`,
        value: `${fmt(createPerSec)} tasks/s`,
        target: '',
        ok: null,
      },
    ];
    return { result, rows };
  } finally {
    await c.close();
  }
}
