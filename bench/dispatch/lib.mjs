// Shared helpers of the dispatch benchmark: HTTP client, servers (in process or child), stats, procfs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ADMIN_TOKEN = 'rdc_bench_admin_token';
export const ENDED = new Set(['completed', 'failed', 'cancelled']);

/** Wall-clock ms since the epoch with sub-ms precision (the bridge's clock for attempt starts). */
export const preciseNow = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (msg) => process.stderr.write(`  ${msg}\n`);
export const dist = (rel) => import(pathToFileURL(join(ROOT, 'dist', rel)).href);

const cleanups = new Set();

/** Registers `fn` to run on an interrupt; returns it wrapped to run once and unregister itself. */
export function onCleanup(fn) {
  let once;
  const run = () => {
    cleanups.delete(run);
    once ??= fn();
    return once;
  };
  cleanups.add(run);
  return run;
}

/** Stops every server, child process and temp dir still registered (bounded to 20 s). */
export async function cleanupAll() {
  await Promise.race([Promise.allSettled([...cleanups].map((run) => run())), sleep(20_000)]);
}

export function tempDir(tag) {
  return mkdtempSync(join(tmpdir(), `rediacc-bench-dispatch-${tag}-`));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP call on loopback; body is an object or a pre-serialised JSON string. */
export function call(url, token, method, path, body) {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers = { authorization: `Bearer ${token}` };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/api/v1${path}`, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed = text;
        try {
          parsed = text === '' ? null : JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, body: parsed });
      });
    });
    req.setTimeout(180_000, () => req.destroy(new Error(`${method} ${path}: no answer within 180 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A client bound to a server and token whose calls throw on a non-2xx answer. */
export function client(url, token) {
  const go = async (method, path, body) => {
    const r = await call(url, token, method, path, body);
    if (r.status < 200 || r.status > 299) {
      throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    return r.body;
  };
  return {
    get: (p) => go('GET', p),
    post: (p, b) => go('POST', p, b ?? {}),
    patch: (p, b) => go('PATCH', p, b),
  };
}

/** The control plane in this process (embedded bridge by default), on its own temp data dir. */
export async function startInProcess(tag, { bridge = true, settings = {} } = {}) {
  const { startServer } = await dist('server/start.js');
  const { default: pino } = await import('pino');
  const dataDir = tempDir(tag);
  const server = await startServer({
    dataDir,
    port: 0,
    adminToken: ADMIN_TOKEN,
    logger: pino({ level: 'silent' }),
    bridge,
    settings,
  });
  return {
    server,
    url: server.url,
    dataDir,
    api: client(server.url, ADMIN_TOKEN),
    close: onCleanup(async () => {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }),
  };
}

/** Resolves with the task's final status (via the server's in-process bus), or rejects after timeoutMs. */
export function waitTaskEnded(server, taskId, timeoutMs) {
  return new Promise((resolve, reject) => {
    let off = () => {};
    let settled = false;
    const finish = (err, status) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      off();
      if (err) reject(err);
      else resolve(status);
    };
    const timer = setTimeout(
      () => finish(new Error(`task ${taskId} did not end within ${timeoutMs} ms`)),
      timeoutMs,
    );
    off = server.service.bus.subscribe(`task:${taskId}`, (ev) => {
      if (ev.type === 'status' && ENDED.has(ev.status)) finish(null, ev.status);
    });
    server.store.getTask(taskId).then((t) => {
      if (t !== null && ENDED.has(t.status)) finish(null, t.status);
    }, finish);
  });
}

/** Polls GET /batches/<id> until every task ended (or `alive()` turns false); faster near the end. */
export async function waitBatchDone(api, batchId, t0, timeoutMs, alive = () => true) {
  const deadline = t0 + timeoutMs;
  for (;;) {
    const b = await api.get(`/batches/${batchId}`);
    if (b.done >= b.total) return { counts: b.counts, ms: performance.now() - t0, total: b.total };
    if (performance.now() > deadline)
      throw new Error(`batch ${batchId}: ${b.done}/${b.total} after ${timeoutMs} ms`);
    if (!alive())
      throw new Error(`batch ${batchId}: ${b.done}/${b.total}; the process running it has exited`);
    await sleep(b.total - b.done > 200 ? 100 : 5);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether `node bin/rediacc.js <command> --help` works (the CLI may not be built yet). */
export function cliHas(command) {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) return false;
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'rediacc.js'), command, '--help'], {
    stdio: 'ignore',
    timeout: 10_000,
  });
  return r.status === 0;
}

/**
 * The control plane as a child process: `node bin/rediacc.js server` when `cli`, else
 * bench/dispatch/server-child.mjs (startServer from dist). Resolves once /health answers.
 */
export async function startChild(tag, { bridge = true, cli = false } = {}) {
  const dataDir = tempDir(tag);
  const port = await freePort();
  const args = cli
    ? [join(ROOT, 'bin', 'rediacc.js'), 'server', '--port', String(port), '--data-dir', dataDir]
    : [join(ROOT, 'bench', 'dispatch', 'server-child.mjs'), '--port', String(port), '--data-dir', dataDir];
  if (!bridge) args.push('--no-bridge');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, REDIACC_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server child exited with ${child.exitCode}: ${stderr}`);
    const ok = await call(url, '', 'GET', '/health').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('server child did not answer /health within 30 s');
    }
    await sleep(50);
  }
  let token = ADMIN_TOKEN;
  if ((await call(url, token, 'GET', '/machines')).status === 401) {
    token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  }
  return {
    pid: child.pid,
    url,
    dataDir,
    token,
    api: client(url, token),
    close: onCleanup(async () => {
      await stopChild(child, exited);
      rmSync(dataDir, { recursive: true, force: true });
    }),
  };
}

/** SIGTERM, then SIGKILL if the child has not exited after 15 s. */
export async function stopChild(child, exited = new Promise((r) => child.once('exit', r))) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** VmHWM (peak RSS) and VmRSS of a process, in MB (10^6 bytes; /proc counts KiB). */
export function memOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { hwmMB: (kb('VmHWM') * 1024) / 1e6, rssMB: (kb('VmRSS') * 1024) / 1e6 };
}

/** CPU ticks used by the whole machine and by this process with its reaped descendants. */
export function cpuTicks() {
  const all = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = all;
  const own = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ').map(Number);
  // Fields 14-17 of /proc/self/stat (utime, stime, cutime, cstime), counted after the ') '.
  return { busy: user + nice + system + irq + softirq + steal, mine: own[11] + own[12] + own[13] + own[14] };
}

/** Share (%) of the machine's CPU capacity used by processes outside this benchmark between two snapshots. */
export function othersCpuPct(a, b, wallMs, cores) {
  const ticks = b.busy - a.busy - (b.mine - a.mine);
  return Math.max(0, Math.round((ticks / ((wallMs / 1000) * 100 * cores)) * 100));
}

/** Nearest-rank percentile of an array of numbers. */
export function pct(values, q) {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const median = (values) => pct(values, 0.5);
export const round = (x, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** A create-request body of n tasks, machines taken in turn from `machines`. */
export function batchBody(n, machines, fields) {
  const tasks = Array.from({ length: n }, (_, i) => ({ machine: machines[i % machines.length], ...fields }));
  return JSON.stringify({ tasks });
}
