// Scenario 4: RSS of `rediacc server` (control plane + embedded bridge, a child process) holding an
// open pooled SSH connection to each of N machines (default 500: two fleets of 250). One fan-out
// of `true` opens them; the open connections are counted from /proc before RSS is read.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { log, memOf, round, sleep } from '../dispatch/lib.mjs';
import { startFleets } from './harness.mjs';
import { fanOut, registerMachines, startServer } from './rediacc.mjs';

const SELECT = { role: 'mem' };
const TARGET_MB = 200;

/** "0200007F:4E21" (/proc/net/tcp, little-endian IPv4) → "127.0.0.2:20001". */
function address(hex) {
  const [ip, port] = hex.split(':');
  const bytes = ip
    .match(/../g)
    .map((b) => Number.parseInt(b, 16))
    .reverse();
  return `${bytes.join('.')}:${Number.parseInt(port, 16)}`;
}

/** Established TCP connections of process `pid` to one of `targets` ("host:port" set). */
export function openConnections(pid, targets) {
  const inodes = new Set();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m !== null) inodes.add(m[1]);
    } catch {}
  }
  let n = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '01') continue; // 01: ESTABLISHED
    if (inodes.has(f[9]) && targets.has(address(f[2]))) n++;
  }
  return n;
}

async function measure(size) {
  const set = await startFleets(size);
  let srv;
  try {
    srv = await startServer('fleet-memory');
    const idle = memOf(srv.pid);
    const registerMs = await registerMachines(srv, set.machines, SELECT, { parallel: 32 });
    const registered = memOf(srv.pid);
    log(
      `${size} machines registered in ${Math.round(registerMs)} ms; server RSS ${round(registered.rssMB, 1)} MB`,
    );
    // Up to 500 handshakes at once on this machine: a failed one is retried, as users would ask.
    const run = await fanOut(srv, SELECT, 'true', { timeoutMs: 300_000, pollMs: 50, retryCount: 2 });
    await sleep(2_000);
    const targets = new Set(set.machines.map(({ machine }) => `${machine.host}:${machine.port}`));
    const connections = openConnections(srv.pid, targets);
    const mem = memOf(srv.pid);
    log(
      `fan-out ${Math.round(run.ms)} ms ${JSON.stringify(run.counts)}; ${connections} SSH connections open; ` +
        `RSS ${round(mem.rssMB, 1)} MB, peak ${round(mem.hwmMB, 1)} MB`,
    );
    return {
      machines: size,
      fleets: set.fleets.length,
      registerMs: Math.round(registerMs),
      fanOutMs: Math.round(run.ms),
      counts: run.counts,
      openSshConnections: connections,
      rssIdleMB: round(idle.rssMB, 1),
      rssRegisteredMB: round(registered.rssMB, 1),
      rssMB: round(mem.rssMB, 1),
      peakMB: round(mem.hwmMB, 1),
      perConnectionKB: round(((mem.rssMB - registered.rssMB) * 1e3) / Math.max(1, connections), 1),
    };
  } catch (err) {
    if (srv === undefined) throw err;
    const state = srv.alive() ? 'still running' : 'exited';
    throw new Error(`${err?.message ?? err} (server ${state}; its log ends: ${srv.logTail().slice(-600)})`);
  } finally {
    await srv?.close();
    await set.close();
  }
}

export async function memory({ memoryMachines }) {
  // If this machine cannot start that many sshd, say so and measure with fewer.
  let result;
  const tried = [];
  for (const size of [memoryMachines, 250, 100].filter(
    (s, i, a) => s <= memoryMachines && a.indexOf(s) === i,
  )) {
    try {
      result = await measure(size);
      break;
    } catch (err) {
      tried.push({ machines: size, error: String(err?.message ?? err).slice(0, 300) });
      log(`with ${size} machines: ${err?.message ?? err}; trying fewer`);
    }
  }
  if (result === undefined) throw new Error(`memory: every size failed: ${JSON.stringify(tried)}`);
  if (tried.length > 0) result.failedSizes = tried;
  const short = result.machines < memoryMachines ? ` (${memoryMachines} failed)` : '';
  return {
    result,
    rows: [
      {
        figure: `4. server RSS, ${result.openSshConnections}/${result.machines} SSH connections open${short}`,
        value: `${result.rssMB} MB (peak ${result.peakMB} MB)`,
        target: `≤ ${TARGET_MB} MB`,
        ok: result.rssMB <= TARGET_MB && result.machines === memoryMachines,
      },
      {
        figure: '4. server RSS before / after registering',
        value: `${result.rssIdleMB} / ${result.rssRegisteredMB} MB; +${result.perConnectionKB} kB per connection`,
        target: '',
        ok: null,
      },
      {
        figure: `4. cold fan-out to ${result.machines}`,
        value: `${result.fanOutMs} ms ${JSON.stringify(result.counts)}`,
        target: '',
        ok: null,
      },
    ],
  };
}
