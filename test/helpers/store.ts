import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Priority } from '../../src/core/types.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { BridgeReport, ClaimRequest, NewMachine, NewTask } from '../../src/store/store.js';

/** A fixed start of time for store tests; every store call gets `now` from the test. */
export const T0 = 1_700_000_000_000;
export const AGING_MS = 10 * 60 * 1000;
export const LEASE_MS = 30_000;
export const BRIDGE = 'b1';

export interface TestStore {
  store: SqliteStore;
  dir: string;
  /** Adds a machine of team `default` in region `default`. */
  machine(name: string, concurrency?: number, extra?: Partial<NewMachine>): Promise<void>;
  /** Inserts one task at `now` and returns its id. */
  add(machine: string, opts?: Partial<NewTask>, now?: number): Promise<string>;
  claim(now: number, opts?: Partial<ClaimRequest>): Promise<string[]>;
  report(now: number, partial: Partial<Omit<BridgeReport, 'now'>>): ReturnType<SqliteStore['report']>;
  close(): Promise<void>;
}

/** A real SQLite store in a temp dir with team, region `default` and bridge `b1`. */
export async function openTestStore(): Promise<TestStore> {
  const dir = mkdtempSync(join(tmpdir(), 'rediacc-store-'));
  const store = new SqliteStore(join(dir, 'rediacc.db'));
  await store.migrate();
  await store.ensureRegion('default', T0);
  await store.createTeam('default', T0);
  await store.upsertBridge(BRIDGE, 'default', T0);
  return {
    store,
    dir,
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
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
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
