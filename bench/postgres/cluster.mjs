// The PostgreSQL side of the postgres and soak benchmarks: a fresh database per contender and run,
// rediacc server replicas on it (`node bin/rediacc.js server --database-url …`), real bridges.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, cpSync, existsSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  ADMIN_TOKEN,
  call,
  client,
  freePort,
  onCleanup,
  ROOT,
  sleep,
  stopChild,
  tempDir,
} from '../dispatch/lib.mjs';

/** The server the benchmark creates its databases on: REDIACC_BENCH_PG_URL, else the local one (trust auth). */
export const PG_ADMIN_URL = process.env.REDIACC_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const PREFIX = 'rediacc_bench_';
const STALE_MS = 6 * 60 * 60 * 1000;

async function admin(fn) {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A new empty database (older leftovers of killed runs are dropped); { url, name, drop() }. */
export async function createDatabase(tag) {
  const name = `${PREFIX}${Date.now()}_${tag}_${randomBytes(3).toString('hex')}`;
  await admin(async (c) => {
    const { rows } = await c.query(`SELECT datname FROM pg_database WHERE datname LIKE '${PREFIX}%'`);
    for (const { datname } of rows) {
      const born = Number(datname.slice(PREFIX.length).split('_')[0]);
      if (Number.isFinite(born) && Date.now() - born > STALE_MS) {
        await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {});
      }
    }
    await c.query(`CREATE DATABASE ${name}`);
  });
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  const drop = onCleanup(() =>
    admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => {}),
  );
  return { url: u.toString(), name, drop };
}

/** Runs `sql` on the database at `url` with a short-lived connection. */
export async function sql(url, text, values = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** The PostgreSQL version string, e.g. "15.20". */
export async function pgVersion() {
  return admin(async (c) => (await c.query('SHOW server_version')).rows[0].server_version.split(' ')[0]);
}

let snapshot;

/**
 * A private copy of bin/, dist/ and package.json (node_modules linked), taken once per run: the
 * tree is shared, and a rebuild of dist/ by someone else mid-run must not change or break the
 * servers and bridges this run starts. Returns the path of its bin/rediacc.js. REDIACC_BENCH_BIN
 * names another build's bin/rediacc.js instead (to compare a change).
 */
export function rediaccBin() {
  if (snapshot === undefined && process.env.REDIACC_BENCH_BIN) snapshot = process.env.REDIACC_BENCH_BIN;
  if (snapshot === undefined) {
    const dir = tempDir('build');
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    snapshot = join(dir, 'bin', 'rediacc.js');
  }
  return snapshot;
}

/**
 * One replica: `node bin/rediacc.js server --database-url URL --no-bridge` on a free port, log level
 * warn (a per-task info line is not part of queue machinery). Resolves once /health answers.
 */
export async function startReplica(
  dbUrl,
  tag,
  { logLevel = 'warn', leaseSeconds, nodeArgs = [], logFile } = {},
) {
  const dataDir = tempDir(`pg-${tag}`);
  const port = await freePort();
  const args = [...nodeArgs, rediaccBin(), 'server', '--database-url', dbUrl, '--no-bridge'];
  args.push('--port', String(port), '--data-dir', dataDir, '--log-level', logLevel);
  if (leaseSeconds !== undefined) args.push('--lease-seconds', String(leaseSeconds));
  const out = logFile === undefined ? 'ignore' : openSync(logFile, 'a');
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', out, 'pipe'],
    env: { ...process.env, REDIACC_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  if (typeof out === 'number') closeSync(out);
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-8000);
  });
  const exited = new Promise((r) => child.once('exit', r));
  const close = onCleanup(async () => {
    await stopChild(child, exited);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await close();
      throw new Error(`replica exited with ${child.exitCode}: ${stderr}`);
    }
    const ok = await call(url, '', 'GET', '/health').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`replica did not answer /health within 60 s: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    pid: child.pid,
    url,
    api: client(url, ADMIN_TOKEN),
    stderr: () => stderr,
    /** null while it runs, else its exit code or the signal that ended it. */
    exit: () => child.exitCode ?? child.signalCode,
    close,
  };
}

/** `n` replicas on one database, started together (their migrations must not trip over each other). */
export async function startReplicas(dbUrl, n, optsOf = () => ({})) {
  const settled = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => startReplica(dbUrl, `r${i}`, optsOf(i))),
  );
  const up = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(up.map((r) => r.close()));
    throw failed.reason;
  }
  return up;
}

/** Warnings and errors the replicas logged (JSON lines of level ≥ 40), counted by message. */
export function logProblems(files) {
  const byMsg = {};
  let total = 0;
  for (const f of files) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (line === '') continue;
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      if ((rec.level ?? 0) < 40) continue;
      total += 1;
      const key = `${rec.msg}${rec.err === undefined ? '' : `: ${String(rec.err).slice(0, 80)}`}`;
      byMsg[key] = (byMsg[key] ?? 0) + 1;
    }
  }
  return { total, byMsg };
}

/**
 * A fresh database with 2 replicas (or `replicas`), local-transport machines of `concurrency`
 * slots each, and `bridges` registered bridges (tokens). close() stops everything and drops it.
 */
export async function rediaccCluster(
  tag,
  { machines = [], concurrency = 8, bridges = 0, replicas: count = 2, leaseSeconds } = {},
) {
  const db = await createDatabase(tag);
  const logDir = tempDir(`logs-${tag}`);
  const logFiles = Array.from({ length: count }, (_, i) => join(logDir, `r${i}.log`));
  let replicas = [];
  const close = async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await db.drop();
    rmSync(logDir, { recursive: true, force: true });
  };
  try {
    replicas = await startReplicas(db.url, count, (i) => ({ logFile: logFiles[i], leaseSeconds }));
    for (const name of machines) {
      await replicas[0].api.post('/machines', { name, concurrency, transport: 'local' });
    }
    const tokens = await registerBridges(replicas[0].api, `${tag}-b`, bridges);
    return { db, replicas, tokens, problems: () => logProblems(logFiles), close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A real bridge: `node bin/rediacc.js bridge --url <urls>` with its token in REDIACC_BRIDGE_TOKEN
 * (never on the command line). Its log goes nowhere unless it fails.
 */
export function startRealBridge(urls, token, { maxRunning } = {}) {
  const args = [rediaccBin(), 'bridge', '--url', urls.join(','), '--log-level', 'warn'];
  if (maxRunning !== undefined) args.push('--max-running', String(maxRunning));
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, REDIACC_BRIDGE_TOKEN: token },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-8000);
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    pid: child.pid,
    alive: () => child.exitCode === null && child.signalCode === null,
    exit: () => child.exitCode ?? child.signalCode,
    stderr: () => stderr,
    close: onCleanup(() => stopChild(child, exited)),
  };
}

/** Registers `n` bridges named `${prefix}-i` in `region`; returns their tokens. */
export async function registerBridges(api, prefix, n, region = 'default') {
  const tokens = [];
  for (let i = 0; i < n; i++)
    tokens.push((await api.post('/bridges', { name: `${prefix}-${i}`, region })).token);
  return tokens;
}

/** Creates `total` tasks through the batch API, 10,000 a request, `parallel` requests at once spread over the replicas. */
export async function enqueue(replicas, total, fields, machines, parallel = replicas.length) {
  const BATCH = 10_000;
  let next = 0;
  const bodyOf = (n) =>
    JSON.stringify({
      tasks: Array.from({ length: n }, (_, i) => ({ machine: machines[i % machines.length], ...fields })),
    });
  const full = bodyOf(BATCH);
  const worker = async (w) => {
    const api = replicas[w % replicas.length].api;
    for (;;) {
      const n = Math.min(BATCH, total - next);
      if (n <= 0) return;
      next += n;
      await api.post('/tasks', n === BATCH ? full : bodyOf(n));
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, w) => worker(w)));
}

/**
 * A peer library's idle pooled connection may emit 'error' without a listener when its database is
 * dropped (WITH (FORCE) ends every session): that is not a benchmark failure. Other errors still end
 * the process, as they would without this.
 */
export function tolerateDroppedConnections() {
  process.on('uncaughtException', (err) => {
    if (
      err?.code === '57P01' ||
      /terminating connection due to administrator command/.test(String(err?.message))
    ) {
      process.stderr.write(`  (ignored: a pooled connection ended by DROP DATABASE: ${err.message})\n`);
      return;
    }
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
