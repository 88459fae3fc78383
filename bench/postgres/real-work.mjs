// 3. Real work: N `true` tasks run by 2 real `rediacc bridge` processes (2 replicas, one machine of
// 8 slots) against a bare Node loop spawning `/bin/sh -c true` 8 at a time, the way the local
// transport does; the peers' handlers spawn the same. Where spawning is the limit, the ratio to
// the bare loop is the figure.
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { log, median, round, sleep, waitBatchDone } from '../dispatch/lib.mjs';
import { bareLoop } from '../dispatch/throughput.mjs';
import { fmt } from '../lib/report.mjs';
import { rediaccCluster, startRealBridge } from './cluster.mjs';
import { graphile, peerVersion, pgBoss } from './peers.mjs';
import { CONCURRENCY, peerDrain } from './throughput.mjs';

const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: homedir() };

/** One `/bin/sh -c true` as bareLoop runs it: detached, pipes read, resolves when it closed. */
function spawnTrue() {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'true'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: ENV,
      cwd: homedir(),
    });
    child.stdout.on('data', () => {});
    child.stderr.on('data', () => {});
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`true exited ${code}`))));
  });
}

/** rediacc: from the create request (one batch) until GET /batches says every task ended. */
async function rediaccReal(n) {
  const c = await rediaccCluster('real', { machines: ['work'], concurrency: CONCURRENCY, bridges: 2 });
  const urls = c.replicas.map((r) => r.url);
  const bridges = c.tokens.map((token, i) => startRealBridge([urls[i], urls[1 - i]], token));
  try {
    const deadline = performance.now() + 30_000;
    for (;;) {
      const list = await c.replicas[0].api.get('/bridges');
      if (list.filter((b) => b.online).length >= 2) break;
      if (performance.now() > deadline)
        throw new Error(`bridges not online: ${bridges.map((b) => b.stderr()).join('\n')}`);
      await sleep(50);
    }
    const api = c.replicas[0].api;
    const t0 = performance.now();
    const created = await api.post('/tasks', {
      tasks: Array.from({ length: n }, () => ({ machine: 'work', command: 'true' })),
    });
    const alive = () => bridges.every((b) => b.alive());
    const done = await waitBatchDone(api, created.batchId, t0, 900_000, alive);
    const failed = done.total - (done.counts.completed ?? 0);
    return { ms: done.ms, perSec: n / (done.ms / 1000), failed, problems: c.problems().total };
  } finally {
    await Promise.all(bridges.map((b) => b.close()));
    await c.close();
  }
}

/** Scenario 3: rounds of bare loop, rediacc, graphile-worker, pg-boss; medians and ratios to the bare loop. */
export async function realWork({ quick }) {
  const n = quick ? 2_000 : 5_000;
  const rounds = quick ? 1 : 3;
  const runs = { bare: [], rediacc: [] };
  const peers = [];
  if (peerVersion('graphile-worker') !== null) {
    peers.push(['graphile-worker', () => peerDrain(graphile, 'rgw', n, { localQueueSize: -1 }, spawnTrue)]);
  }
  if (peerVersion('pg-boss') !== null) {
    peers.push([
      'pg-boss',
      () => peerDrain(pgBoss, 'rpb', n, { batchSize: 50, pollingIntervalSeconds: 0.5 }, spawnTrue),
    ]);
  }
  for (const [name] of peers) runs[name] = [];
  for (let i = 1; i <= rounds; i++) {
    const b = await bareLoop(n, CONCURRENCY);
    runs.bare.push(b.perSec);
    log(`round ${i}: bare loop ${fmt(b.tasks)} spawns in ${round(b.ms / 1000, 1)} s = ${fmt(b.perSec)}/s`);
    const r = await rediaccReal(n);
    runs.rediacc.push(r.perSec);
    log(
      `round ${i}: rediacc ${fmt(n)} tasks in ${round(r.ms / 1000, 1)} s = ${fmt(r.perSec)}/s (${r.failed} not completed, ${r.problems} server warnings)`,
    );
    for (const [name, run] of peers) {
      const p = await run();
      runs[name].push(p.perSec);
      log(`round ${i}: ${name} ${fmt(n)} jobs in ${round(p.ms / 1000, 1)} s = ${fmt(p.perSec)}/s`);
    }
  }
  const bare = median(runs.bare);
  const result = { tasks: n, concurrency: CONCURRENCY, rounds, perSec: {}, ratioToBare: {} };
  const rows = [
    { figure: `bare spawn loop (conc ${CONCURRENCY})`, value: `${fmt(bare)} /s`, target: '', ok: null },
  ];
  for (const [name, values] of Object.entries(runs)) {
    result.perSec[name] = values.map(Math.round);
    if (name === 'bare') continue;
    const ratios = values.map((v, i) => v / runs.bare[i]);
    result.ratioToBare[name] = round(median(ratios), 3);
    rows.push({
      figure: `real work: ${name === 'rediacc' ? 'rediacc (2 replicas, 2 real bridges)' : name}`,
      value: `${fmt(median(values))} /s = ×${result.ratioToBare[name]} of bare`,
      target: '',
      ok: null,
    });
  }
  return { result, rows };
}
