// Enqueue→start latency: from just before POST /tasks to the process start the bridge recorded
// (attempts.started_at, REAL ms with sub-ms precision, read from the SQLite file read-only).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { batchBody, log, pct, preciseNow, round, sleep, startInProcess, waitTaskEnded } from './lib.mjs';

const STARTED_AT = `SELECT a.started_at FROM attempts a JOIN tasks t ON t.seq = a.task_seq
  WHERE t.task_id = ? AND a.attempt = 1`;

/** Runs `count` tasks one at a time, each created as `input`; returns enqueue→start latencies in ms. */
async function sequential(s, db, input, count, label) {
  const startedAt = db.prepare(STARTED_AT);
  const out = [];
  const deadline = performance.now() + 120_000;
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    const t0 = preciseNow();
    const task = await s.api.post('/tasks', input);
    const status = await waitTaskEnded(s.server, task.taskId, 15_000);
    const row = startedAt.get(task.taskId);
    if (status !== 'completed' || row?.started_at == null) {
      log(`${label}: task ${task.taskId} ended ${status} without a start time; sample skipped`);
      continue;
    }
    out.push(row.started_at - t0);
  }
  return out;
}

const summary = (ms) => ({
  samples: ms.length,
  p50Ms: round(pct(ms, 0.5), 3),
  p90Ms: round(pct(ms, 0.9), 3),
  p99Ms: round(pct(ms, 0.99), 3),
  maxMs: round(Math.max(...ms), 3),
});

/** The floor: a bare spawn of `/bin/sh -c true` (as the transport does) until its 'spawn' event, in ms. */
async function spawnFloor(count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const t0 = preciseNow();
    const child = spawn('/bin/sh', ['-c', 'true'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const closed = new Promise((r) => child.once('close', r));
    child.stdout.resume();
    child.stderr.resume();
    await new Promise((r) => child.once('spawn', r));
    out.push(preciseNow() - t0);
    await closed;
  }
  return out;
}

/** Scenario 1: `true` on `local`, embedded bridge, one task at a time. */
export async function latency({ quick }) {
  const warmup = quick ? 5 : 20;
  const samples = quick ? 50 : 300;
  const floor = await spawnFloor(warmup + samples);
  const s = await startInProcess('latency');
  const db = new Database(join(s.dataDir, 'rediacc.db'), { readonly: true, fileMustExist: true });
  try {
    const input = { machine: 'local', command: 'true' };
    await sequential(s, db, input, warmup, 'latency warm-up');
    const ms = await sequential(s, db, input, samples, 'latency');
    const r = { warmup, ...summary(ms), bareSpawn: summary(floor.slice(warmup)) };
    log(`latency: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms over ${r.samples} samples`);
    log(`bare spawn floor: p50 ${r.bareSpawn.p50Ms} ms, p99 ${r.bareSpawn.p99Ms} ms`);
    return {
      result: r,
      rows: [
        {
          figure: 'floor: bare spawn → spawn event',
          value: `p50 ${r.bareSpawn.p50Ms} ms, p99 ${r.bareSpawn.p99Ms} ms`,
          target: '',
          ok: null,
        },
        {
          figure: 'enqueue→start p50 (true, local)',
          value: `${r.p50Ms} ms`,
          target: '≤ 3 ms',
          ok: r.p50Ms <= 3,
        },
        {
          figure: 'enqueue→start p99 (true, local)',
          value: `${r.p99Ms} ms`,
          target: '≤ 10 ms',
          ok: r.p99Ms <= 10,
        },
      ],
    };
  } finally {
    db.close();
    await s.close();
  }
}

/** Scenario 2: priority-1 `true` on a concurrency-1 machine whose slot is held and behind which N priority-5 tasks wait. */
export async function p1({ quick }) {
  const queued = quick ? 1_000 : 10_000;
  const warmup = 5;
  const samples = quick ? 20 : 100;
  const s = await startInProcess('p1');
  const db = new Database(join(s.dataDir, 'rediacc.db'), { readonly: true, fileMustExist: true });
  try {
    await s.api.post('/machines', { name: 'busy', concurrency: 1, transport: 'local' });
    // One of these takes the normal slot and holds it for the whole run; closing the server kills it.
    for (let left = queued; left > 0; left -= 10_000) {
      await s.api.post(
        '/tasks',
        batchBody(Math.min(10_000, left), ['busy'], { command: 'sleep 600', priority: 5 }),
      );
    }
    const deadline = performance.now() + 30_000;
    let m = await s.api.get('/machines/busy');
    while (m.running < 1 && performance.now() < deadline) {
      await sleep(20);
      m = await s.api.get('/machines/busy');
    }
    log(`p1: machine busy has ${m.running} running, ${m.pending} priority-5 tasks waiting`);
    const input = { machine: 'busy', command: 'true', priority: 1 };
    await sequential(s, db, input, warmup, 'p1 warm-up');
    const ms = await sequential(s, db, input, samples, 'p1');
    const r = { queuedP5: m.pending, ...summary(ms) };
    log(`p1: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms over ${r.samples} samples`);
    return {
      result: r,
      rows: [
        {
          figure: `p1 enqueue→start p99 (${m.pending} p5 waiting)`,
          value: `${r.p99Ms} ms (p50 ${r.p50Ms})`,
          target: '≤ 50 ms',
          ok: r.p99Ms <= 50,
        },
      ],
    };
  } finally {
    db.close();
    await s.close();
  }
}
