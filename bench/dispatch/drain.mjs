// Control-plane dispatch rate: simulated bridges (this process, the bridge protocol over HTTP)
// claim and at once report exit 0 for queued tasks on a server without a bridge (a child process).
import { batchBody, call, log, round, sleep, startChild } from './lib.mjs';

const MACHINES = ['d0', 'd1', 'd2', 'd3'];
const CONCURRENCY = 2_500;

/** A server with 4 machines × 2,500 slots and `bridges` registered bridges; returns it and their tokens. */
async function setUp(bridges) {
  const srv = await startChild('drain', { bridge: false });
  for (const name of MACHINES)
    await srv.api.post('/machines', { name, concurrency: CONCURRENCY, transport: 'local' });
  const tokens = [];
  for (let i = 0; i < bridges; i++) {
    tokens.push((await srv.api.post('/bridges', { name: `sim-${i}`, region: 'default' })).token);
  }
  return { srv, tokens };
}

async function enqueue(srv, n) {
  const body = batchBody(10_000, MACHINES, { command: 'true' });
  for (let left = n; left > 0; left -= 10_000) {
    await srv.api.post('/tasks', left >= 10_000 ? body : batchBody(left, MACHINES, { command: 'true' }));
  }
}

/** Simulated bridges drain `total` tasks; tasks/s from the first claim to the last acknowledged report. */
async function drainWith(srv, tokens, total, batch) {
  let reported = 0;
  let requests = 0;
  const t0 = performance.now();
  const deadline = t0 + 300_000;
  let failed = null;
  const bridge = async (token) => {
    while (reported < total && failed === null && performance.now() < deadline) {
      const c = await call(srv.url, token, 'POST', '/bridge/claim', { max: batch, waitMs: 0 });
      requests += 1;
      if (c.status !== 200) throw new Error(`claim: HTTP ${c.status} ${JSON.stringify(c.body)}`);
      if (c.body.tasks.length === 0) {
        await sleep(2); // the rest is in other bridges' hands
        continue;
      }
      const at = Date.now();
      const results = c.body.tasks.map((t) => ({
        taskId: t.taskId,
        attempt: t.attempt,
        at,
        exitCode: 0,
        signal: null,
        reason: null,
      }));
      const r = await call(srv.url, token, 'POST', '/bridge/report', { results });
      requests += 1;
      if (r.status !== 200) throw new Error(`report: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      reported += results.length;
    }
  };
  await Promise.all(
    tokens.map((token) =>
      bridge(token).catch((err) => {
        failed ??= err;
      }),
    ),
  );
  if (failed !== null) throw failed;
  const ms = performance.now() - t0;
  return { tasks: reported, ms, perSec: reported / (ms / 1000), requests };
}

/** Scenario 5: tune the claim size with 2 bridges, then drain with 1, 2 and 4 bridges at the best size. */
export async function drain({ quick }) {
  const total = quick ? 20_000 : 100_000;
  const sizes = quick ? [250, 1000] : [100, 250, 500, 1000, 2000];
  const tuneTasks = quick ? 10_000 : 20_000;
  const tuning = {};
  {
    const { srv, tokens } = await setUp(2);
    try {
      for (const size of sizes) {
        await enqueue(srv, tuneTasks);
        const r = await drainWith(srv, tokens, tuneTasks, size);
        tuning[size] = Math.round(r.perSec);
        log(`tuning: claim max ${size}, 2 bridges: ${tuning[size]} tasks/s`);
      }
    } finally {
      await srv.close();
    }
  }
  const best = Number(Object.entries(tuning).sort((a, b) => b[1] - a[1])[0][0]);
  const runs = {};
  for (const n of [1, 2, 4]) {
    const { srv, tokens } = await setUp(n);
    try {
      await enqueue(srv, total);
      const r = await drainWith(srv, tokens, total, best);
      const stats = await srv.api.get('/queue/stats');
      runs[n] = {
        perSec: Math.round(r.perSec),
        seconds: round(r.ms / 1000),
        requests: r.requests,
        pendingLeft: Object.values(stats.pending).reduce((a, b) => a + b, 0),
      };
      log(
        `${n} bridge(s), claim max ${best}: ${r.tasks} tasks in ${round(r.ms / 1000)} s = ${runs[n].perSec} tasks/s`,
      );
    } finally {
      await srv.close();
    }
  }
  const peak = Math.max(...Object.values(runs).map((r) => r.perSec));
  return {
    result: {
      tasks: total,
      machines: `${MACHINES.length} × concurrency ${CONCURRENCY}`,
      tuningTasks: tuneTasks,
      tuningPerSec: tuning,
      claimMax: best,
      runs,
      bestPerSec: peak,
    },
    rows: [
      ...[1, 2, 4].map((n) => ({
        figure: `dispatch rate, ${n} simulated bridge(s), max ${best}`,
        value: `${runs[n].perSec} tasks/s`,
        target: '≥ 25,000/s',
        ok: runs[n].perSec >= 25_000,
      })),
    ],
  };
}
