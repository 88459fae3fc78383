import { MINUTE_MS, SECOND_MS } from '../core/time.js';
import { DEFAULT_AGING_INTERVAL_MS, DEFAULT_CRITICAL_RESERVE } from '../scheduler/ordering.js';

/** Scheduling and limits of a control plane. Every field has a default. */
export interface ServerSettings {
  /** How long a bridge holds a task without a heartbeat. Default 30 s. */
  leaseMs: number;
  /** A waiting task moves up one priority level per interval. Default 10 min. */
  agingIntervalMs: number;
  /** Extra slots per machine for priority-1 tasks. Default 1. */
  criticalReserve: number;
  /** Stored output per task; the rest is discarded and the cap marked. Default 10 MiB. */
  outputCapBytes: number;
  /** Most tasks one create request may hold. Default 10,000. */
  maxBatchSize: number;
  /** Longest a bridge's claim request waits for work. Default 25 s. */
  claimWaitMaxMs: number;
  /** How often expired leases and due retries are looked for. Default 1 s. */
  sweepIntervalMs: number;
  /** Output of tasks that ended longer ago is archived to gzip files and deleted. Default 30 days. */
  logRetentionDays: number;
  /** How often old output is looked for. Default 1 h. */
  retentionIntervalMs: number;
  /** A machine unreachable for longer turns offline (alert). Default 60 s. */
  offlineAfterMs: number;
}

export const DEFAULT_SETTINGS: ServerSettings = {
  leaseMs: 30 * SECOND_MS,
  agingIntervalMs: DEFAULT_AGING_INTERVAL_MS,
  criticalReserve: DEFAULT_CRITICAL_RESERVE,
  outputCapBytes: 10 * 1024 * 1024,
  maxBatchSize: 10_000,
  claimWaitMaxMs: 25 * SECOND_MS,
  sweepIntervalMs: SECOND_MS,
  logRetentionDays: 30,
  retentionIntervalMs: 60 * MINUTE_MS,
  offlineAfterMs: 60 * SECOND_MS,
};

export const DEFAULT_MACHINE_CONCURRENCY = 4;
export const MAX_LIST_LIMIT = 1000;

/** Where `rediacc server` listens unless told otherwise. */
export const DEFAULT_PORT = 7400;
