// 1. Queue machinery throughput on one PostgreSQL: N queued tasks drained by rediacc (2 replicas,
// simulated bridges completing each task at once) vs graphile-worker and pg-boss with no-op
// handlers, all at concurrency 8. Each contender's batch size is tuned first on a smaller queue.
import { log, median, round } from '../dispatch/lib.mjs';
import { fmt } from '../lib/report.mjs';
import { createDatabase, enqueue, rediaccCluster, sql } from './cluster.mjs';
import { graphile, peerVersion, pgBoss } from './peers.mjs';
import { simBridge } from './sim-bridge.mjs';

export const CONCURRENCY = 8;
const MACHINES = ['d0', 'd1', 'd2', 'd3'];
const DEADLINE_MS = 900_000;

/** rediacc: n tasks queued through the API, then 8 simulated bridges (4 per replica) drain them. */
export async function rediaccDrain(n, max) {
  const c = await rediaccCluster('tput', { machines: MACHINES, concurrency: 5_000, bridges: CONCURRENCY });
  try {
    await enqueue(c.replicas, n, { command: 'true' }, MACHINES);
    await sql(c.db.url, 'ANALYZE');
    let reported = 0;
    let finish;
    const all = new Promise((r) => {
      finish = r;
    });
    const t0 = performance.now();
    const loops = c.tokens.map((token, i) =>
      simBridge(c.replicas[i % c.replicas.length].url, token, {
        max,
        waitMs: 1_000,
        onReported: (k) => {
          reported += k;
          if (reported >= n) finish(performance.now());
        },
      }),
    );
    const failed = Promise.race(loops.map((l) => l.done.then(() => new Promise(() => {}))));
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`rediacc: ${reported}/${n} reported at the deadline`)),
        DEADLINE_MS,
      );
    });
    const end = await Promise.race([all, failed, deadline]).finally(() => clearTimeout(timer));
    const requests = loops.reduce((a, l) => a + l.requests(), 0);
    await Promise.all(loops.map((l) => l.stop()));
    const [{ n: completed }] = await sql(
      c.db.url,
      `SELECT count(*)::int AS n FROM tasks WHERE status = 'completed'`,
    );
    if (completed !== n) throw new Error(`rediacc: ${completed}/${n} tasks completed in the database`);
    const problems = c.problems();
    return { ms: end - t0, perSec: n / ((end - t0) / 1000), requests, problems };
  } finally {
    await c.close();
  }
}

/** A peer: n jobs enqueued in bulk, then a worker pool of 8 runs `work` (a no-op by default) on each. */
export async function peerDrain(make, tag, n, config, work = () => undefined) {
  const db = await createDatabase(tag);
  let p;
  try {
    p = await make(db.url);
    await p.enqueue(n);
    await sql(db.url, 'ANALYZE');
    let handled = 0;
    const t0 = performance.now();
    await p.start({ concurrency: CONCURRENCY, ...config }, async () => {
      await work();
      handled += 1;
    });
    const end = await p.done(n, t0 + DEADLINE_MS, () => handled);
    return { ms: end - t0, perSec: n / ((end - t0) / 1000) };
  } finally {
    await p?.close();
    await db.drop();
  }
}

function contenders() {
  const out = [
    {
      name: 'rediacc',
      configs: [250, 1000, 2500].map((max) => ({
        label: `claim max ${max}`,
        run: (n) => rediaccDrain(n, max),
      })),
    },
  ];
  if (peerVersion('graphile-worker') !== null) {
    const g = (size, delay) => ({
      label: size < 0 ? 'no local queue' : `localQueue ${size}, completeJobBatchDelay ${delay}`,
      run: (n) => peerDrain(graphile, 'tgw', n, { localQueueSize: size, completeJobBatchDelay: delay }),
    });
    out.push({ name: 'graphile-worker', configs: [g(-1, -1), g(100, 0), g(500, 0), g(1000, 0)] });
  } else log('graphile-worker not installed (cd bench/peers && npm install): skipped');
  if (peerVersion('pg-boss') !== null) {
    const b = (batchSize) => ({
      label: `batchSize ${batchSize}`,
      run: (n) => peerDrain(pgBoss, 'tpb', n, { batchSize, pollingIntervalSeconds: 0.5 }),
    });
    out.push({ name: 'pg-boss', configs: [b(100), b(500), b(1000), b(2000)] });
  } else log('pg-boss not installed (cd bench/peers && npm install): skipped');
  return out;
}

/** Scenario 1: tune each contender's batch size on a small queue, then interleaved repetitions of N. */
export async function throughput({ quick }) {
  const n = quick ? 10_000 : 100_000;
  const tuneN = quick ? 5_000 : 20_000;
  const reps = quick ? 1 : 3;
  const all = contenders();
  const result = { tasks: n, concurrency: CONCURRENCY, tuningTasks: tuneN, contenders: {} };
  for (const c of all) {
    const tuning = {};
    for (const cfg of c.configs) {
      const r = await cfg.run(tuneN);
      tuning[cfg.label] = Math.round(r.perSec);
      log(`tuning ${c.name}, ${cfg.label}: ${fmt(r.perSec)}/s`);
    }
    c.best = c.configs.reduce((a, b) => (tuning[b.label] > tuning[a.label] ? b : a));
    result.contenders[c.name] = { tuningPerSec: tuning, best: c.best.label, runs: [] };
  }
  for (let i = 1; i <= reps; i++) {
    for (const c of all) {
      const r = await c.best.run(n);
      const entry = { perSec: Math.round(r.perSec), seconds: round(r.ms / 1000, 1) };
      if (r.problems !== undefined) entry.serverWarnings = r.problems;
      result.contenders[c.name].runs.push(entry);
      const warn = r.problems?.total ? ` (server warnings: ${JSON.stringify(r.problems.byMsg)})` : '';
      log(
        `rep ${i}: ${c.name} (${c.best.label}) ${fmt(n)} in ${round(r.ms / 1000, 1)} s = ${fmt(r.perSec)}/s${warn}`,
      );
    }
  }
  const rows = [];
  for (const [name, c] of Object.entries(result.contenders)) {
    c.medianPerSec = median(c.runs.map((r) => r.perSec));
    const version = name === 'rediacc' ? '' : ` ${peerVersion(name)}`;
    rows.push({
      figure: `throughput ${name}${version} (${c.best}), conc ${CONCURRENCY}`,
      value: `${fmt(c.medianPerSec)} tasks/s (median of ${c.runs.length}: ${c.runs.map((r) => fmt(r.perSec)).join(', ')})`,
      target: '',
      ok: null,
    });
  }
  const rd = result.contenders.rediacc;
  for (const [peer, target] of [
    ['graphile-worker', 1],
    ['pg-boss', 2],
  ]) {
    const p = result.contenders[peer];
    if (p === undefined) continue;
    // Each repetition's ratio uses runs made minutes apart at most; the median of those ratios.
    const ratios = rd.runs.map((r, i) => r.perSec / p.runs[i].perSec);
    const ratio = round(median(ratios), 2);
    result[`ratioTo_${peer}`] = { median: ratio, perRep: ratios.map((x) => round(x, 2)) };
    rows.push({
      figure: `throughput ratio rediacc / ${peer}`,
      value: `×${ratio} (per rep: ${ratios.map((x) => round(x, 2)).join(', ')})`,
      target: `≥ ×${target}`,
      ok: ratio >= target,
    });
  }
  const dropped = rd.runs.reduce((a, r) => a + (r.serverWarnings?.total ?? 0), 0);
  rows.push({
    figure: 'rediacc server warnings during the drains',
    value: `${fmt(dropped)}${dropped > 0 ? ` (${Object.keys(rd.runs.find((r) => r.serverWarnings?.total)?.serverWarnings.byMsg ?? {}).join('; ')})` : ''}`,
    target: '0',
    ok: dropped === 0,
  });
  return { result, rows };
}
