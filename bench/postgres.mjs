// npm run bench -- postgres [--only throughput,latency,real,p1,scale] [--quick]
// rediacc on PostgreSQL (2 replicas) against graphile-worker and pg-boss (bench/peers) on the same
// server in the same run. Progress on stderr, then a table and one JSON line on stdout.
import { parseArgs } from 'node:util';
import { cleanupAll } from './dispatch/lib.mjs';
import { cpuTicks, loadavg, machine, othersCpuPct, selectScenarios, table } from './lib/report.mjs';
import { PG_ADMIN_URL, pgVersion, tolerateDroppedConnections } from './postgres/cluster.mjs';
import { latency } from './postgres/latency.mjs';
import { peerVersion } from './postgres/peers.mjs';
import { p1 } from './postgres/priority.mjs';
import { realWork } from './postgres/real-work.mjs';
import { scale } from './postgres/scale.mjs';
import { throughput } from './postgres/throughput.mjs';

const SCENARIOS = {
  throughput: {
    run: throughput,
    about: '1. queue machinery: N no-op tasks, rediacc vs graphile-worker vs pg-boss',
  },
  latency: { run: latency, about: '2. enqueue→start under light load, all three' },
  real: { run: realWork, about: '3. `true` run by real bridges (and peers) vs a bare spawn loop' },
  p1: { run: p1, about: '4. priority-1 enqueue→start with 100,000 priority-5 tasks queued' },
  scale: { run: scale, about: '5. claim latency at 1,000 vs 1,000,000 pending; queue stats time' },
};

export async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: { only: { type: 'string' }, quick: { type: 'boolean', default: false } },
  });
  const wanted = selectScenarios(values.only, SCENARIOS);
  tolerateDroppedConnections();
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      process.stderr.write(`\n${signal}: stopping replicas, bridges and peers, dropping databases\n`);
      await cleanupAll();
      process.exit(130);
    });
  }
  const m = machine();
  const pg = await pgVersion();
  const peers = { 'graphile-worker': peerVersion('graphile-worker'), 'pg-boss': peerVersion('pg-boss') };
  const opts = { quick: values.quick };
  const pgHost = new URL(PG_ADMIN_URL).host;
  process.stderr.write(
    `postgres benchmark${opts.quick ? ' (--quick: smaller counts)' : ''}: ${m.nproc} × ${m.cpu}, ` +
      `${m.memGiB} GiB, Node ${m.node}, PostgreSQL ${pg} at ${pgHost}; peers: ` +
      `${Object.entries(peers)
        .map(([k, v]) => `${k} ${v ?? 'not installed'}`)
        .join(', ')}\n`,
  );
  const results = {};
  const rows = [];
  const load = [];
  for (const name of wanted) {
    const s = SCENARIOS[name];
    const before = loadavg();
    process.stderr.write(`\n[${name}] ${s.about} (load average ${before})\n`);
    const t0 = performance.now();
    const cpu0 = cpuTicks();
    try {
      const out = await s.run(opts);
      const ms = performance.now() - t0;
      const others = othersCpuPct(cpu0, cpuTicks(), ms, m.nproc);
      const after = loadavg();
      process.stderr.write(
        `  (load average after: ${after}; CPU used outside the benchmark's own processes, PostgreSQL included: ${others}%)\n`,
      );
      load.push(`${name}: ${before} → ${after}`);
      results[name] = { ...out.result, seconds: Math.round(ms / 1000), loadBefore: before, loadAfter: after };
      rows.push(...out.rows);
    } catch (err) {
      process.stderr.write(`  ${name} failed: ${err?.stack ?? err}\n`);
      results[name] = { error: String(err?.message ?? err) };
      rows.push({ figure: name, value: 'error (see stderr)', target: '', ok: null });
      await cleanupAll();
    }
  }
  process.stdout.write(
    `\npostgres benchmark — ${m.nproc} × ${m.cpu}, Node ${m.node}, PostgreSQL ${pg}` +
      `${opts.quick ? ' (--quick)' : ''}\n`,
  );
  process.stdout.write(`${table(rows)}\n`);
  process.stdout.write(`load average (1/5/15 min) before → after each scenario: ${load.join('; ')}\n`);
  process.stdout.write(
    `${JSON.stringify({ bench: 'postgres', quick: opts.quick, machine: m, postgres: pg, peers, results })}\n`,
  );
}
