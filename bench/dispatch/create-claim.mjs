// Batch create rate on a server without a bridge (a child process), and the latency of a one-task
// claim (plus its result report) at ~1,000 and at ~1,000,000 pending tasks.
import { batchBody, call, log, pct, round, startChild } from './lib.mjs';

const BATCH = 10_000;
const MACHINE = 'claim-m';

/** `count` rounds of claim {max:1, waitMs:0} then report exit 0 for what was claimed; timed apart. */
async function claims(srv, token, count) {
  const claimMs = [];
  const reportMs = [];
  const deadline = performance.now() + 120_000;
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    let t0 = performance.now();
    const c = await call(srv.url, token, 'POST', '/bridge/claim', { max: 1, waitMs: 0 });
    claimMs.push(performance.now() - t0);
    if (c.status !== 200) throw new Error(`claim: HTTP ${c.status} ${JSON.stringify(c.body)}`);
    const results = c.body.tasks.map((t) => ({
      taskId: t.taskId,
      attempt: t.attempt,
      at: Date.now(),
      exitCode: 0,
      signal: null,
      reason: null,
    }));
    if (results.length === 0) throw new Error('claim returned no task although tasks are pending');
    t0 = performance.now();
    const r = await call(srv.url, token, 'POST', '/bridge/report', { results });
    reportMs.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`report: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  }
  const f = (ms) => ({ p50Ms: round(pct(ms, 0.5), 3), p99Ms: round(pct(ms, 0.99), 3) });
  return { samples: claimMs.length, claim: f(claimMs), report: f(reportMs) };
}

/** Scenario 4: create rate while filling the queue to 1,000,000, with claims before and after. */
export async function createClaim({ quick, only }) {
  const fillTo = quick ? 100_000 : 1_000_000;
  const nClaims = quick ? 50 : 200;
  const withClaims = only.has('claim');
  const srv = await startChild('create', { bridge: false });
  try {
    await srv.api.post('/machines', { name: MACHINE, concurrency: 10_000, transport: 'local' });
    const { token } = await srv.api.post('/bridges', { name: 'sim-claim', region: 'default' });
    const body = batchBody(BATCH, [MACHINE], { command: 'true' });
    const small = batchBody(1_000, [MACHINE], { command: 'true' });
    const result = { batchSize: BATCH, fillTo };

    let pending = 0;
    if (withClaims) {
      await srv.api.post('/tasks', small);
      pending = 1_000;
      await claims(srv, token, 20); // warm-up
      pending -= 20;
      result.claimAt1k = { pending, ...(await claims(srv, token, nClaims)) };
      pending -= result.claimAt1k.samples;
      log(
        `claim at ${result.claimAt1k.pending} pending: p50 ${result.claimAt1k.claim.p50Ms} ms, p99 ${result.claimAt1k.claim.p99Ms} ms`,
      );
    }

    const perRequest = [];
    const t0 = performance.now();
    const deadline = t0 + 900_000;
    while (pending + BATCH <= fillTo + 1_000 && performance.now() < deadline) {
      const t = performance.now();
      const r = await srv.api.post('/tasks', body);
      perRequest.push(performance.now() - t);
      pending += r.count;
      if (perRequest.length % 10 === 0) {
        const last = perRequest.slice(-10).reduce((a, b) => a + b, 0);
        log(
          `create: ${pending.toLocaleString('en')} pending; last 10 requests ${Math.round((10 * BATCH) / (last / 1000))} tasks/s`,
        );
      }
    }
    const totalMs = performance.now() - t0;
    const rate = (ms) => Math.round((ms.length * BATCH) / (ms.reduce((a, b) => a + b, 0) / 1000));
    result.create = {
      requests: perRequest.length,
      tasks: perRequest.length * BATCH,
      perSec: Math.round((perRequest.length * BATCH) / (totalMs / 1000)),
      first10PerSec: rate(perRequest.slice(0, 10)),
      last10PerSec: rate(perRequest.slice(-10)),
      requestP50Ms: round(pct(perRequest, 0.5), 1),
      requestMaxMs: round(Math.max(...perRequest), 1),
    };
    const c = result.create;
    const rows = [
      {
        figure: `batch create rate (${c.requests} × ${BATCH}, 0→${(c.tasks / 1e6).toFixed(1)}M)`,
        value: `${c.perSec} tasks/s (first 10: ${c.first10PerSec}, last 10: ${c.last10PerSec})`,
        target: '≥ 20,000/s',
        ok: c.perSec >= 20_000,
      },
    ];

    if (withClaims) {
      await claims(srv, token, 20); // warm-up
      result.claimAtFull = { pending: pending - 20, ...(await claims(srv, token, nClaims)) };
      const a = result.claimAt1k.claim;
      const b = result.claimAtFull.claim;
      result.claimP50Ratio = round(b.p50Ms / a.p50Ms, 2);
      result.claimP99Ratio = round(b.p99Ms / a.p99Ms, 2);
      log(`claim at ${result.claimAtFull.pending} pending: p50 ${b.p50Ms} ms, p99 ${b.p99Ms} ms`);
      const n = (x) => x.toLocaleString('en');
      rows.push(
        {
          figure: `claim max:1 at ${n(result.claimAt1k.pending)} pending`,
          value: `p50 ${a.p50Ms} ms, p99 ${a.p99Ms} ms`,
          target: '',
          ok: null,
        },
        {
          figure: `claim max:1 at ${n(result.claimAtFull.pending)} pending`,
          value: `p50 ${b.p50Ms} ms, p99 ${b.p99Ms} ms`,
          target: '',
          ok: null,
        },
        {
          figure: 'claim latency ratio (full / 1k)',
          value: `p50 ×${result.claimP50Ratio}, p99 ×${result.claimP99Ratio}`,
          target: '≤ ×2',
          ok: result.claimP50Ratio <= 2 && result.claimP99Ratio <= 2,
        },
      );
    }
    return { result, rows };
  } finally {
    await srv.close();
  }
}
