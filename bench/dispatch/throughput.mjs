// Throughput of many short tasks through rediacc (embedded bridge, local, concurrency 4) against a
// bare Node loop spawning the same `/bin/sh -c true` processes the way the local transport does.
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { batchBody, log, median, round, startInProcess, waitBatchDone } from './lib.mjs';

const CONCURRENCY = 4;

/** n spawns of `/bin/sh -c true`, `concurrency` at a time: detached, stdout/stderr piped and read. */
export async function bareLoop(n, concurrency) {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: homedir() };
  let started = 0;
  let failed = 0;
  const one = () =>
    new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', 'true'], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
        cwd: homedir(),
      });
      child.stdout.on('data', () => {});
      child.stderr.on('data', () => {});
      child.once('error', () => {
        failed += 1;
        resolve();
      });
      // 'close': the process exited and both pipes closed, as the transport waits for.
      child.once('close', (code) => {
        if (code !== 0) failed += 1;
        resolve();
      });
    });
  const deadline = performance.now() + 300_000;
  const worker = async () => {
    while (started < n && performance.now() < deadline) {
      started += 1;
      await one();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - t0;
  return { tasks: started, failed, ms, perSec: started / (ms / 1000) };
}

/** n `true` tasks in one batch on `local`; from the create request until GET /batches says all ended. */
export async function rediaccRun(n, concurrency) {
  const s = await startInProcess('throughput');
  try {
    await s.api.patch('/machines/local', { concurrency });
    const body = batchBody(n, ['local'], { command: 'true' });
    const t0 = performance.now();
    const created = await s.api.post('/tasks', body);
    const done = await waitBatchDone(s.api, created.batchId, t0, 600_000);
    const failed = done.total - (done.counts.completed ?? 0);
    return { tasks: done.total, failed, ms: done.ms, perSec: done.total / (done.ms / 1000) };
  } finally {
    await s.close();
  }
}

/** Scenario 3: rounds of (bare loop, then rediacc), interleaved; medians of each. */
export async function throughput({ quick }) {
  const n = quick ? 2_000 : 10_000;
  const rounds = quick ? 1 : 3;
  const bare = [];
  const rdc = [];
  for (let i = 1; i <= rounds; i++) {
    const b = await bareLoop(n, CONCURRENCY);
    log(
      `round ${i}: bare loop ${b.tasks} spawns in ${round(b.ms / 1000)} s = ${Math.round(b.perSec)}/s (${b.failed} failed)`,
    );
    bare.push(b);
    const r = await rediaccRun(n, CONCURRENCY);
    log(
      `round ${i}: rediacc ${r.tasks} tasks in ${round(r.ms / 1000)} s = ${Math.round(r.perSec)}/s (${r.failed} not completed)`,
    );
    rdc.push(r);
  }
  const bareRate = median(bare.map((b) => b.perSec));
  const rdcRate = median(rdc.map((r) => r.perSec));
  const ratio = rdcRate / bareRate;
  const result = {
    tasks: n,
    concurrency: CONCURRENCY,
    order: 'interleaved: bare loop, then rediacc, per round',
    rounds,
    barePerSec: bare.map((b) => Math.round(b.perSec)),
    rediaccPerSec: rdc.map((r) => Math.round(r.perSec)),
    rediaccFailed: rdc.map((r) => r.failed),
    bareMedianPerSec: Math.round(bareRate),
    rediaccMedianPerSec: Math.round(rdcRate),
    ratio: round(ratio, 3),
  };
  return {
    result,
    rows: [
      {
        figure: `bare spawn loop (${n}, conc ${CONCURRENCY})`,
        value: `${result.bareMedianPerSec} tasks/s`,
        target: '',
        ok: null,
      },
      {
        figure: `rediacc ${n} true tasks (conc ${CONCURRENCY})`,
        value: `${result.rediaccMedianPerSec} tasks/s`,
        target: '',
        ok: null,
      },
      {
        figure: 'throughput ratio rediacc / bare',
        value: `${result.ratio}`,
        target: '≥ 0.9',
        ok: ratio >= 0.9,
      },
    ],
  };
}
