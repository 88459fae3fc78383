// Peak RSS (VmHWM) of the server with its embedded bridge under a scenario-3-like load, and of a
// standalone bridge running `true` tasks. Uses the CLI (bin/rediacc.js) where it is built.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  batchBody,
  cliHas,
  log,
  memOf,
  onCleanup,
  ROOT,
  round,
  startChild,
  stopChild,
  waitBatchDone,
} from './lib.mjs';

async function serverPeak(n, cli) {
  const srv = await startChild('rss-server', { bridge: true, cli });
  try {
    await srv.api.patch('/machines/local', { concurrency: 4 });
    const t0 = performance.now();
    const created = await srv.api.post('/tasks', batchBody(n, ['local'], { command: 'true' }));
    const done = await waitBatchDone(srv.api, created.batchId, t0, 600_000);
    const mem = memOf(srv.pid);
    return { tasks: done.total, completed: done.counts.completed ?? 0, ...mem };
  } finally {
    await srv.close();
  }
}

async function bridgePeak(n, cli) {
  // The server side is not measured here: always the startServer child, without its embedded bridge.
  const srv = await startChild('rss-bridge', { bridge: false });
  let child;
  let stopBridge;
  try {
    const { token } = await srv.api.post('/bridges', { name: 'rss-bridge', region: 'default' });
    const args = cli
      ? [join(ROOT, 'bin', 'rediacc.js'), 'bridge', '--url', srv.url, '--token', token]
      : [join(ROOT, 'bench', 'dispatch', 'bridge-child.mjs'), '--url', srv.url, '--token', token];
    child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    stopBridge = onCleanup(() => stopChild(child));
    const t0 = performance.now();
    const created = await srv.api.post('/tasks', batchBody(n, ['local'], { command: 'true' }));
    const alive = () => child.exitCode === null && child.signalCode === null;
    const done = await waitBatchDone(srv.api, created.batchId, t0, 600_000, alive);
    const mem = memOf(child.pid);
    return { tasks: done.total, completed: done.counts.completed ?? 0, ...mem };
  } finally {
    await stopBridge?.();
    await srv.close();
  }
}

/** Scenario 6. */
export async function rss({ quick }) {
  const serverCli = cliHas('server');
  const bridgeCli = cliHas('bridge');
  const nServer = quick ? 2_000 : 10_000;
  const nBridge = 2_000;
  const how = (cli, cmd) =>
    cli ? `node bin/rediacc.js ${cmd}` : `bench/dispatch/${cmd}-child.mjs (CLI not built)`;
  log(`server: ${how(serverCli, 'server')}; bridge: ${how(bridgeCli, 'bridge')}`);
  const s = await serverPeak(nServer, serverCli);
  log(`server peak RSS ${round(s.hwmMB, 1)} MB after ${s.completed}/${s.tasks} tasks`);
  const b = await bridgePeak(nBridge, bridgeCli);
  log(`bridge peak RSS ${round(b.hwmMB, 1)} MB after ${b.completed}/${b.tasks} tasks`);
  const result = {
    server: {
      via: how(serverCli, 'server'),
      tasks: s.tasks,
      completed: s.completed,
      peakMB: round(s.hwmMB, 1),
      endMB: round(s.rssMB, 1),
    },
    bridge: {
      via: how(bridgeCli, 'bridge'),
      tasks: b.tasks,
      completed: b.completed,
      peakMB: round(b.hwmMB, 1),
      endMB: round(b.rssMB, 1),
    },
  };
  return {
    result,
    rows: [
      {
        figure: `server peak RSS (${s.tasks} true tasks)`,
        value: `${result.server.peakMB} MB`,
        target: '≤ 150 MB',
        ok: s.hwmMB <= 150,
      },
      {
        figure: `bridge peak RSS (${b.tasks} true tasks)`,
        value: `${result.bridge.peakMB} MB`,
        target: '≤ 100 MB',
        ok: b.hwmMB <= 100,
      },
    ],
  };
}
