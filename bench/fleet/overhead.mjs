// Scenario 3: per-task overhead on one warm SSH machine. N sequential `true` tasks, each created
// and then waited for by reading the server's SQLite file, which also gives the attempt's
// startedAt/finishedAt and the task's created_at. The floor is `true` over a bare warm ssh2
// connection, measured in the same run; so is the bridge's remote script with `true`, to tell its
// share from the bridge's.
import { log, median, pct, round } from '../dispatch/lib.mjs';
import { startFleets } from './harness.mjs';
import { openStore, registerMachines, startServer, taskTimes, waitTaskStore } from './rediacc.mjs';
import { connectSsh, execOnce, scriptedExec } from './ssh-floor.mjs';

const WARMUP = 10;

/**
 * n rounds after WARMUP: `true` over the bare connection, then inside the remote script, then one
 * rediacc task (create, wait until ended), so all three see the same load on this machine.
 */
async function rounds(ssh, srv, db, name, n) {
  const wrap = await scriptedExec();
  const out = { bare: [], script: [], ids: [], client: [] };
  for (let i = 0; i < n + WARMUP; i++) {
    const bare = await execOnce(ssh, 'true');
    const w = wrap('true');
    const script = await execOnce(ssh, w.command, w.input);
    const t0 = performance.now();
    const task = await srv.api.post('/tasks', { machine: name, command: 'true' });
    const status = await waitTaskStore(db, task.taskId);
    if (status !== 'completed') throw new Error(`task ${task.taskId} ended ${status}`);
    if (i < WARMUP) continue; // the first task opens the bridge's connection
    out.client.push(performance.now() - t0);
    out.bare.push(bare);
    out.script.push(script);
    out.ids.push(task.taskId);
  }
  return out;
}

const stats = (xs) => ({ p50: round(pct(xs, 0.5)), p99: round(pct(xs, 0.99)), max: round(Math.max(...xs)) });

export async function overhead({ quick }) {
  const n = quick ? 100 : 200;
  const set = await startFleets(1);
  try {
    const { machine, fleet, name } = set.machines[0];
    const ssh = await connectSsh(machine, fleet.clientKeyPrivate);
    const srv = await startServer('fleet-overhead');
    let r;
    let t;
    let db;
    try {
      await registerMachines(srv, [set.machines[0]], { role: 'overhead' });
      db = openStore(srv);
      r = await rounds(ssh, srv, db, name, n);
      t = taskTimes(db, r.ids);
    } finally {
      db?.close();
      ssh.end();
      await srv.close();
    }
    const floor = median(r.bare.map((x) => x.open));
    const attempt = t.map((x) => x.finished - x.started);
    const e2e = t.map((x) => x.finished - x.created);
    const result = {
      tasks: n,
      floorBareTrueMs: {
        openToClose: stats(r.bare.map((x) => x.open)),
        requestToClose: stats(r.bare.map((x) => x.total)),
      },
      remoteScriptTrueMs: {
        openToClose: stats(r.script.map((x) => x.open)),
        requestToClose: stats(r.script.map((x) => x.total)),
      },
      attemptMs: stats(attempt),
      attemptAboveFloorMs: stats(attempt.map((x) => x - floor)),
      enqueueToFinishMs: stats(e2e),
      enqueueToFinishAboveFloorMs: stats(e2e.map((x) => x - floor)),
      enqueueToAssignMs: stats(t.map((x) => x.assigned - x.created)),
      assignToStartMs: stats(t.map((x) => x.started - x.assigned)),
      clientCreateToEndMs: stats(r.client),
    };
    const p50 = (x) => `${x.openToClose.p50} ms`;
    log(`floor: bare true ${p50(result.floorBareTrueMs)}, remote script ${p50(result.remoteScriptTrueMs)}`);
    log(
      `attempt ${JSON.stringify(result.attemptMs)}; enqueue→finish ${JSON.stringify(result.enqueueToFinishMs)}`,
    );
    return { result, rows: rows(result) };
  } finally {
    await set.close();
  }
}

function rows(r) {
  const pp = (s) => `p50 ${s.p50} / p99 ${s.p99} ms`;
  return [
    {
      figure: '3. floor: bare ssh2 exec true (open→close)',
      value: pp(r.floorBareTrueMs.openToClose),
      target: '',
      ok: null,
    },
    {
      figure: '3. remote script + true, bare ssh2',
      value: pp(r.remoteScriptTrueMs.openToClose),
      target: '',
      ok: null,
    },
    {
      figure: `3. attempt start→finish − floor (${r.tasks})`,
      value: pp(r.attemptAboveFloorMs),
      target: 'p50 ≤ 10 ms',
      ok: r.attemptAboveFloorMs.p50 <= 10,
    },
    {
      figure: `3. enqueue→finish − floor (${r.tasks})`,
      value: pp(r.enqueueToFinishAboveFloorMs),
      target: 'p50 ≤ 10 ms',
      ok: r.enqueueToFinishAboveFloorMs.p50 <= 10,
    },
    { figure: '3. of which enqueue→assign', value: pp(r.enqueueToAssignMs), target: '', ok: null },
    { figure: '3. of which assign→start (channel open)', value: pp(r.assignToStartMs), target: '', ok: null },
    {
      figure: '3. client: create request → completed in store',
      value: pp(r.clientCreateToEndMs),
      target: '',
      ok: null,
    },
  ];
}
