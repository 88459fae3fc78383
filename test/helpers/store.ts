import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Priority } from '../../src/core/types.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { BridgeReport, ClaimRequest, NewMachine, NewTask, Store } from '../../src/store/store.js';

/** A fixed start of time for store tests; every store call gets `now` from the test. */
export const T0 = 1_700_000_000_000;
export const AGING_MS = 10 * 60 * 1000;
export const LEASE_MS = 30_000;
export const BRIDGE = 'b1';

/** The store adapters every behaviour suite runs against. */
export const STORES = ['sqlite', 'postgres'] as const;
export type StoreKind = (typeof STORES)[number];

/**
 * The server the PostgreSQL suites use (a database of its own per test file is
 * created there): REDIACC_TEST_PG_URL, else the local server with trust auth.
 */
export const PG_ADMIN_URL = process.env.REDIACC_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TEST_DB_PREFIX = 'rediacc_t_';
/** Test databases older than this are left over from a run that was killed: dropped on the next one. */
const STALE_DB_MS = 6 * 60 * 60 * 1000;

let testDatabase: Promise<string> | null = null;

/**
 * The URL of this test file's database on the PostgreSQL server, created and
 * migrated on first use. A file that uses it calls `afterAll(dropTestDatabase)`.
 */
export function testDatabaseUrl(): Promise<string> {
  testDatabase ??= (async () => {
    const { url } = await emptyDatabase();
    const store = new PostgresStore(url, { poolSize: 1 });
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
    return url;
  })();
  return testDatabase;
}

/** A new database without any table, and how to drop it. */
export async function emptyDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${TEST_DB_PREFIX}${Date.now()}_${randomBytes(4).toString('hex')}`;
  await admin(async (c) => {
    await dropStale(c);
    await c.query(`CREATE DATABASE ${name}`);
  });
  return {
    url: withDatabase(PG_ADMIN_URL, name),
    drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/** Drops this test file's database (for `afterAll`). */
export async function dropTestDatabase(): Promise<void> {
  if (testDatabase === null) return;
  const url = await testDatabase;
  testDatabase = null;
  const name = new URL(url).pathname.slice(1);
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function dropStale(c: pg.Client): Promise<void> {
  const { rows } = await c.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE '${TEST_DB_PREFIX}%'`,
  );
  for (const { datname } of rows) {
    const born = Number(datname.slice(TEST_DB_PREFIX.length).split('_')[0]);
    if (Number.isFinite(born) && Date.now() - born > STALE_DB_MS) {
      await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {});
    }
  }
}

/**
 * Empties every table of the test file's database and starts ids at 1 again,
 * as a fresh SQLite file would. DELETE, children first, is much faster than
 * TRUNCATE on tables this small.
 */
async function resetDatabase(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    resetSql ??= await buildResetSql(c);
    await c.query(resetSql);
  } finally {
    await c.end();
  }
}

let resetSql: string | undefined;

async function buildResetSql(c: pg.Client): Promise<string> {
  const tables = (
    await c.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`,
    )
  ).rows.map((r) => r.name);
  const edges = (
    await c.query<{ child: string; parent: string }>(
      `SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent
       FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`,
    )
  ).rows;
  // Children before their parents.
  const order: string[] = [];
  const visit = (t: string) => {
    if (order.includes(t)) return;
    for (const e of edges) if (e.parent === t && e.child !== t) visit(e.child);
    order.push(t);
  };
  for (const t of tables) visit(t);
  const sequences = (
    await c.query<{ name: string }>(
      `SELECT sequencename AS name FROM pg_sequences WHERE schemaname = 'public'`,
    )
  ).rows.map((r) => r.name);
  return [
    ...order.map((t) => `DELETE FROM "${t}";`),
    ...sequences.map((q) => `SELECT setval('"${q}"', 1, false);`),
  ].join('\n');
}

/** A migrated, empty store of the given kind. */
export async function openStore(kind: StoreKind): Promise<{ store: Store; dispose(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'rediacc-store-'));
    const store = new SqliteStore(join(dir, 'rediacc.db'));
    await store.migrate();
    return {
      store,
      dispose: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const url = await testDatabaseUrl();
  await resetDatabase(url);
  const store = new PostgresStore(url, { poolSize: 4 });
  await store.migrate();
  return { store, dispose: () => store.close() };
}

export interface TestStore {
  kind: StoreKind;
  store: Store;
  /** Adds a machine of team `default` in region `default`. */
  machine(name: string, concurrency?: number, extra?: Partial<NewMachine>): Promise<void>;
  /** Inserts one task at `now` and returns its id. */
  add(machine: string, opts?: Partial<NewTask>, now?: number): Promise<string>;
  claim(now: number, opts?: Partial<ClaimRequest>): Promise<string[]>;
  report(now: number, partial: Partial<Omit<BridgeReport, 'now'>>): ReturnType<Store['report']>;
  close(): Promise<void>;
}

/**
 * A real store with team, region `default` and bridge `b1`: a SQLite file in a
 * temp dir, or the test file's PostgreSQL database, emptied.
 */
export async function openTestStore(kind: StoreKind = 'sqlite'): Promise<TestStore> {
  const { store, dispose } = await openStore(kind);
  await store.ensureRegion('default', T0);
  await store.createTeam('default', T0);
  await store.upsertBridge(BRIDGE, 'default', T0);
  return {
    kind,
    store,
    machine: async (name, concurrency = 1, extra = {}) => {
      await store.createMachine(
        {
          name,
          team: 'default',
          region: 'default',
          transport: 'local',
          concurrency,
          labels: {},
          host: null,
          port: null,
          user: null,
          ...extra,
        },
        T0,
      );
    },
    add: async (machine, opts = {}, now = T0) => {
      const t = newTask(machine, opts);
      await store.insertTasks([t], now);
      return t.taskId;
    },
    claim: async (now, opts = {}) => (await store.claim(claimRequest(now, opts))).map((a) => a.taskId),
    report: (now, partial) =>
      store.report({
        bridge: BRIDGE,
        now,
        leaseMs: LEASE_MS,
        outputCapBytes: 10 * 1024 * 1024,
        started: [],
        output: [],
        results: [],
        running: [],
        ...partial,
      }),
    close: dispose,
  };
}

export function newTask(machine: string, opts: Partial<NewTask> = {}): NewTask {
  return {
    taskId: randomUUID(),
    batchId: null,
    machine,
    priority: 3 as Priority,
    command: 'true',
    env: {},
    secretEnv: {},
    retryCount: 0,
    retryDelaySeconds: 0,
    backoff: 'fixed',
    failureAction: 'none',
    timeoutSeconds: null,
    createdBy: null,
    ...opts,
  };
}

export function claimRequest(now: number, opts: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    bridge: BRIDGE,
    region: 'default',
    max: 100,
    now,
    leaseMs: LEASE_MS,
    agingIntervalMs: AGING_MS,
    criticalReserve: 1,
    ...opts,
  };
}

/** A result as a bridge reports it. */
export function result(
  taskId: string,
  attempt: number,
  at: number,
  exitCode: number | null,
  signal: string | null = null,
) {
  return { taskId, attempt, at, exitCode, signal, reason: null };
}
