// npm run bench -- soak [--minutes 10] [--rate 20] [--read-rate 50]
// 2 replicas on one PostgreSQL, 2 real bridges, a steady stream of `true` tasks (--rate a second)
// and autocannon readers (list, get, queue stats; --read-rate a second on each replica). Every
// minute: throughput, p99 latencies, each process's RSS; at the end, the growth from minute 2 to
// the last and the error counts. Progress on stderr, then tables and one JSON line on stdout.
import { parseArgs } from 'node:util';
import { cleanupAll, memOf, round, sleep } from './dispatch/lib.mjs';
import { fmt, loadavg, machine, positiveInt, table } from './lib/report.mjs';
import {
  pgVersion,
  rediaccCluster,
  sql,
  startRealBridge,
  tolerateDroppedConnections,
} from './postgres/cluster.mjs';
import { peerVersion } from './postgres/peers.mjs';
import { readers, taskStream } from './soak/load.mjs';

const MACHINE = 'soak';
const SLOTS = 8;

/** Tasks completed and ended otherwise in [from, to), and the p99 wait (create → start) of tasks created then. */
async function tasksIn(dbUrl, from, to) {
  const [r] = await sql(
    dbUrl,
    `SELECT count(*) FILTER (WHERE finished_at >= $1 AND finished_at < $2 AND status = 'completed')::int AS completed,
       count(*) FILTER (WHERE finished_at >= $1 AND finished_at < $2 AND status <> 'completed')::int AS other,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY started_at - created_at)
         FILTER (WHERE created_at >= $1 AND created_at < $2 AND started_at IS NOT NULL) AS wait_p99
     FROM tasks`,
    [from, to],
  );
  return {
    completed: r.completed,
    other: r.other,
    waitP99Ms: r.wait_p99 === null ? null : round(r.wait_p99, 1),
  };
}

function growth(first, last) {
  return { from: round(first, 1), to: round(last, 1), pct: round(((last - first) / first) * 100, 1) };
}

export async function main(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '10' },
      rate: { type: 'string', default: '20' },
      'read-rate': { type: 'string', default: '50' },
    },
  });
  const minutes = positiveInt(values.minutes, '--minutes', 120);
  const rate = positiveInt(values.rate, '--rate', 500);
  const readRate = positiveInt(values['read-rate'], '--read-rate', 2000);
  if (peerVersion('autocannon') === null) {
    process.stderr.write('autocannon is not installed: cd bench/peers && npm install\n');
    process.exit(2);
  }
  tolerateDroppedConnections();
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, async () => {
      process.stderr.write(`\n${signal}: stopping replicas and bridges, dropping the database\n`);
      await cleanupAll();
      process.exit(130);
    });
  }
  const m = machine();
  const pg = await pgVersion();
  const config = { minutes, tasksPerSec: rate, readsPerSecPerReplica: readRate, machineSlots: SLOTS };
  process.stderr.write(
    `soak: ${minutes} min, ${rate} tasks/s, readers ${readRate} req/s on each of 2 replicas (autocannon ` +
      `${peerVersion('autocannon')}); ${m.nproc} × ${m.cpu}, Node ${m.node}, PostgreSQL ${pg}; load ${loadavg()}\n`,
  );
  const c = await rediaccCluster('soak', { machines: [MACHINE], concurrency: SLOTS, bridges: 2 });
  const urls = c.replicas.map((r) => r.url);
  const bridges = c.tokens.map((token, i) => startRealBridge([urls[i], urls[1 - i]], token));
  const procs = [
    ...c.replicas.map((r, i) => ({ name: `replica ${i + 1}`, ...r })),
    ...bridges.map((b, i) => ({ name: `bridge ${i + 1}`, ...b })),
  ];
  /** VmRSS in MB, or null once the process is gone (it then counts as an error). */
  const rssOf = (p) => {
    try {
      return round(memOf(p.pid).rssMB, 1);
    } catch {
      return null;
    }
  };
  const rows = [];
  let stream;
  try {
    for (let t = performance.now() + 30_000; ; await sleep(50)) {
      if ((await c.replicas[0].api.get('/bridges')).filter((b) => b.online).length >= 2) break;
      if (performance.now() > t) throw new Error('the bridges did not come online within 30 s');
    }
    stream = taskStream(c.replicas, MACHINE, rate);
    while (stream.recent.length === 0) await sleep(20);
    let warned = 0;
    for (let i = 1; i <= minutes; i++) {
      const from = Date.now();
      const rd = await Promise.all(
        urls.map((u) => readers(u, stream.recent, { seconds: 60, rate: readRate })),
      );
      const to = Date.now();
      const cr = stream.take();
      const tk = await tasksIn(c.db.url, from, to);
      const problems = c.problems().total;
      const row = {
        minute: i,
        created: cr.creates,
        completed: tk.completed,
        endedOtherwise: tk.other,
        createP99Ms: cr.p99Ms,
        waitP99Ms: tk.waitP99Ms,
        reads: rd.reduce((a, r) => a + r.requests, 0),
        readP99Ms: Math.max(...rd.map((r) => r.p99Ms)),
        errors: {
          create: cr.errors,
          skipped: cr.skipped,
          read: rd.reduce((a, r) => a + r.errors + r.non2xx, 0),
          timeouts: rd.reduce((a, r) => a + r.timeouts, 0),
          serverWarnings: problems - warned,
          processesDown: procs.filter((p) => p.exit() !== null).length,
        },
        rssMB: Object.fromEntries(procs.map((p) => [p.name, rssOf(p)])),
        load: loadavg(),
      };
      warned = problems;
      rows.push(row);
      const errs = Object.values(row.errors).reduce((a, b) => a + b, 0);
      process.stderr.write(
        `  minute ${i}: ${row.completed} completed (${row.created} created), create p99 ${row.createP99Ms} ms, ` +
          `wait p99 ${row.waitP99Ms} ms, ${row.reads} reads p99 ${row.readP99Ms} ms, ${errs} errors, RSS ` +
          `${Object.values(row.rssMB).join(' / ')} MB, load ${row.load}\n`,
      );
    }
    await stream.stop();
    stream = undefined;
    // Every accepted task ends: wait for the last ones.
    let end;
    for (let t = performance.now() + 60_000; ; await sleep(200)) {
      [end] = await sql(
        c.db.url,
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE status = 'completed')::int AS completed,
           count(*) FILTER (WHERE status IN ('pending', 'assigned', 'running', 'retrying'))::int AS open FROM tasks`,
      );
      if (end.open === 0 || performance.now() > t) break;
    }
    for (const p of procs.filter((x) => x.exit() !== null)) {
      process.stderr.write(
        `  ${p.name} (pid ${p.pid}) ended early (${p.exit()}); its last stderr:\n${p.stderr()}\n`,
      );
    }
    return report({ m, pg, config, rows, end, procs });
  } finally {
    await stream?.stop();
    await Promise.all(bridges.map((b) => b.close()));
    await c.close();
  }
}

function report({ m, pg, config, rows, end, procs }) {
  const first = rows[Math.min(1, rows.length - 1)];
  const last = rows[rows.length - 1];
  const sum = (k) => rows.reduce((a, r) => a + r.errors[k], 0);
  const errors = {
    createErrors: sum('create'),
    createsSkipped: sum('skipped'),
    readErrorsAndNon2xx: sum('read'),
    readTimeouts: sum('timeouts'),
    serverWarnings: sum('serverWarnings'),
    processesDown: last.errors.processesDown,
    tasksNotCompleted: end.total - end.completed,
  };
  const totalErrors = Object.values(errors).reduce((a, b) => a + b, 0);
  const comparable = rows.length >= 3;
  const summary = [];
  const rssGrowth = {};
  for (const p of procs) {
    if (first.rssMB[p.name] === null || last.rssMB[p.name] === null) {
      summary.push({
        figure: `RSS ${p.name}`,
        value: `process ended (${p.exit()})`,
        target: 'runs',
        ok: false,
      });
      continue;
    }
    const g = growth(first.rssMB[p.name], last.rssMB[p.name]);
    rssGrowth[p.name] = g;
    summary.push({
      figure: `RSS ${p.name}, minute ${first.minute} → ${last.minute}`,
      value: `${g.from} → ${g.to} MB (${g.pct >= 0 ? '+' : ''}${g.pct}%)`,
      target: 'no growth (≤ +10%)',
      ok: comparable ? g.pct <= 10 : null,
    });
  }
  const p99s = [
    ['readers p99 (list/get/stats)', 'readP99Ms'],
    ['create request p99', 'createP99Ms'],
    ['task wait p99 (create → start)', 'waitP99Ms'],
  ];
  const p99Growth = {};
  for (const [label, key] of p99s) {
    const g = growth(first[key], last[key]);
    p99Growth[key] = g;
    summary.push({
      figure: `${label}, minute ${first.minute} → ${last.minute}`,
      value: `${g.from} → ${g.to} ms (max ${Math.max(...rows.map((r) => r[key]))})`,
      target: 'no growth (≤ ×1.5: noise)',
      ok: comparable ? g.to <= g.from * 1.5 : null,
    });
  }
  summary.push(
    {
      figure: 'throughput, minute 2 → last',
      value: `${fmt(first.completed)} → ${fmt(last.completed)} tasks/min (${config.tasksPerSec * 60} offered)`,
      target: '',
      ok: null,
    },
    {
      figure: 'errors (all kinds, whole run)',
      value: `${totalErrors} ${JSON.stringify(errors)}`,
      target: '0',
      ok: totalErrors === 0,
    },
  );
  const minuteTable = [
    '| min | created | completed | create p99 ms | wait p99 ms | reads | read p99 ms | errors | RSS MB (r1 / r2 / b1 / b2) | load |',
    '|-----|---------|-----------|---------------|-------------|-------|-------------|--------|----------------------------|------|',
    ...rows.map(
      (r) =>
        `| ${r.minute} | ${r.created} | ${r.completed} | ${r.createP99Ms} | ${r.waitP99Ms} | ${r.reads} | ${r.readP99Ms} | ` +
        `${Object.values(r.errors).reduce((a, b) => a + b, 0)} | ${Object.values(r.rssMB).join(' / ')} | ${r.load} |`,
    ),
  ].join('\n');
  process.stdout.write(
    `\nsoak — ${m.nproc} × ${m.cpu}, Node ${m.node}, PostgreSQL ${pg}, ${rows.length} min\n`,
  );
  process.stdout.write(`${minuteTable}\n\n${table(summary)}\n`);
  if (!comparable) process.stdout.write('(growth needs at least 3 minutes: --minutes 3 or more)\n');
  process.stdout.write(
    `${JSON.stringify({ bench: 'soak', machine: m, postgres: pg, config, minutes: rows, end, errors, rssGrowth, p99Growth })}\n`,
  );
}
