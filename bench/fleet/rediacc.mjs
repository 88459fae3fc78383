// The rediacc side of the fleet benchmark: `node bin/rediacc.js server` as a child process (so
// its RSS is its own), SSH machines registered through the API with their key encrypted here into
// the team vault (what `rediacc create machine --ssh-key-file` does), fan-outs, and the store.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  ADMIN_TOKEN,
  call,
  client,
  dist,
  ENDED,
  freePort,
  onCleanup,
  ROOT,
  sleep,
  stopChild,
} from '../dispatch/lib.mjs';

const TEAM = 'default';

/**
 * A fresh `node bin/rediacc.js server` (control plane + embedded bridge) as a child process, on a new
 * data dir, so no connection is open. Its stdout/stderr go to server.log there (logTail() reads it).
 */
export async function startServer(tag) {
  const dataDir = mkdtempSync(join(tmpdir(), `rediacc-bench-fleet-${tag}-`));
  const port = await freePort();
  const logFile = join(dataDir, 'server.log');
  const fd = openSync(logFile, 'a');
  const args = [join(ROOT, 'bin', 'rediacc.js'), 'server', '--port', String(port), '--data-dir', dataDir];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', fd, fd],
    env: { ...process.env, REDIACC_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  closeSync(fd);
  const exited = new Promise((r) => child.once('exit', r));
  const close = onCleanup(async () => {
    await stopChild(child, exited);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  const logTail = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '');
  const deadline = performance.now() + 30_000;
  while ((await call(url, '', 'GET', '/health').catch(() => ({}))).status !== 200) {
    if (child.exitCode !== null || performance.now() > deadline) {
      const tail = logTail();
      await close();
      throw new Error(`rediacc server did not come up: ${tail}`);
    }
    await sleep(50);
  }
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    pid: child.pid,
    url,
    dataDir,
    token: ADMIN_TOKEN,
    api: client(url, ADMIN_TOKEN),
    alive,
    logTail,
    close,
  };
}

function masterPassword(dataDir) {
  const env = process.env.REDIACC_MASTER_PASSWORD;
  if (env !== undefined && env !== '') return env;
  const file = join(dataDir, 'master-password');
  if (!existsSync(file)) throw new Error(`no REDIACC_MASTER_PASSWORD and no ${file}`);
  return readFileSync(file, 'utf8').trim();
}

/** The team's data key, opened with the master password (created on first use, as the CLI does). */
async function teamDataKey(srv) {
  const { Keyring } = await dist('vault/keyring.js');
  const { newTeamKey, wrapTeamKey } = await dist('vault/crypto.js');
  const master = await srv.api.get('/vault/master');
  const keyring = new Keyring(masterPassword(srv.dataDir));
  keyring.check(master);
  const got = await call(srv.url, srv.token, 'GET', `/teams/${TEAM}/vault-key`);
  if (got.status === 200) return keyring.teamKey(master.kdf, TEAM, got.body.wrapped);
  const key = newTeamKey();
  await srv.api.post(`/teams/${TEAM}/vault-key`, {
    wrapped: wrapTeamKey(keyring.kek(master.kdf), TEAM, key),
  });
  return key;
}

/**
 * Registers fleet machines ([{ machine, name, fleet }]) as SSH machines with `labels`, host keys
 * pinned, `parallel` API calls at a time. Returns the elapsed ms.
 */
export async function registerMachines(srv, entries, labels, { parallel = 16 } = {}) {
  const t0 = performance.now();
  const { encryptSecret } = await dist('vault/crypto.js');
  const dataKey = await teamDataKey(srv);
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const { machine, name, fleet } = entries[next++];
      const key = `ssh/${name}`;
      const ciphertext = encryptSecret(dataKey, TEAM, key, 1, fleet.clientKeyPrivate);
      const r = await call(srv.url, srv.token, 'PUT', `/teams/${TEAM}/vault/${key}`, {
        ciphertext,
        expectedVersion: 0,
      });
      if (r.status < 200 || r.status > 299) throw new Error(`vault ${key}: HTTP ${r.status}`);
      await srv.api.post('/machines', {
        name,
        transport: 'ssh',
        host: machine.host,
        port: machine.port,
        user: machine.user,
        hostKey: machine.hostKeyPublic,
        labels,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, entries.length) }, worker));
  return performance.now() - t0;
}

/**
 * One fan-out of `command` on every machine with `select` labels, timed from the create request
 * until GET /batches/<id> says all ended (polled every `pollMs`). Throws after timeoutMs.
 */
export async function fanOut(srv, select, command, { timeoutMs = 120_000, pollMs = 5, retryCount } = {}) {
  const t0 = performance.now();
  const body = { select, all: true, command, ...(retryCount === undefined ? {} : { retryCount }) };
  const created = await srv.api.post('/tasks', body);
  const createdMs = performance.now() - t0;
  for (;;) {
    const b = await srv.api.get(`/batches/${created.batchId}`);
    if (b.done >= b.total) {
      return {
        batchId: created.batchId,
        ms: performance.now() - t0,
        createdMs,
        total: b.total,
        counts: b.counts,
      };
    }
    if (performance.now() - t0 > timeoutMs) {
      throw new Error(`fan-out ${created.batchId}: ${b.done}/${b.total} ended after ${timeoutMs} ms`);
    }
    await sleep(pollMs);
  }
}

/** Read-only view of the server's SQLite file (WAL: reads while the server writes). */
export function openStore(srv) {
  return new Database(join(srv.dataDir, 'rediacc.db'), { readonly: true, fileMustExist: true });
}

/** Server-side span of a batch: first created_at → last finished_at (ms, the store's REAL ms). */
export function batchSpan(db, batchId) {
  const r = db
    .prepare('SELECT MIN(created_at) AS c, MAX(finished_at) AS f FROM tasks WHERE batch_id = ?')
    .get(batchId);
  return r.f - r.c;
}

/** Timestamps (REAL ms) of tasks and their first attempt, in the order of `taskIds`. */
export function taskTimes(db, taskIds) {
  const q = db.prepare(
    `SELECT t.status, t.created_at AS created, a.assigned_at AS assigned, a.started_at AS started,
            a.finished_at AS finished
       FROM tasks t JOIN attempts a ON a.task_seq = t.seq AND a.attempt = 1
      WHERE t.task_id = ?`,
  );
  return taskIds.map((id) => q.get(id));
}

/**
 * Resolves with the task's final status, read from the store file every ~1 ms: waiting this way
 * puts no load on the server (an SSE follow or API polling would run in the server's event loop).
 */
export async function waitTaskStore(db, taskId, timeoutMs = 30_000) {
  const q = db.prepare('SELECT status FROM tasks WHERE task_id = ?').pluck();
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = q.get(taskId);
    if (ENDED.has(status)) return status;
    if (performance.now() > deadline)
      throw new Error(`task ${taskId}: still ${status} after ${timeoutMs} ms`);
    await sleep(1);
  }
}
