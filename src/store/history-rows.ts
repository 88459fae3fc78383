import type { SampleRecord } from '../history/queue-samples.js';

/** queue_samples rows, shared by both stores (src/store/history-store.ts). */

/** A queue_samples row as either store returns it. */
export interface SampleRow {
  team_id: number;
  minute: number;
  taken_at: number;
  pending_1: number;
  pending_2: number;
  pending_3: number;
  pending_4: number;
  pending_5: number;
  running: number;
  retrying: number;
  started: number;
  wait_p50_ms: number | null;
  wait_p95_ms: number | null;
  wait_max_ms: number | null;
  oldest_wait_ms: number | null;
}

export const SAMPLE_COLUMNS = `s.team_id, s.minute, s.taken_at, s.pending_1, s.pending_2, s.pending_3, s.pending_4,
  s.pending_5, s.running, s.retrying, s.started, s.wait_p50_ms, s.wait_p95_ms, s.wait_max_ms, s.oldest_wait_ms`;

export const INSERT_SAMPLE = `INSERT INTO queue_samples (team_id, minute, taken_at, pending_1, pending_2, pending_3,
  pending_4, pending_5, running, retrying, started, wait_p50_ms, wait_p95_ms, wait_max_ms, oldest_wait_ms)`;

export function sampleValues(r: SampleRecord): unknown[] {
  return [
    r.teamId,
    r.minute,
    r.takenAt,
    ...r.pending,
    r.running,
    r.retrying,
    r.started,
    r.waitP50Ms,
    r.waitP95Ms,
    r.waitMaxMs,
    r.oldestWaitMs,
  ];
}

export function toSample(r: SampleRow): SampleRecord {
  const n = (v: number | string | null) => (v === null ? null : Number(v));
  return {
    teamId: Number(r.team_id),
    minute: Number(r.minute),
    takenAt: Number(r.taken_at),
    pending: [r.pending_1, r.pending_2, r.pending_3, r.pending_4, r.pending_5].map(Number) as [
      number,
      number,
      number,
      number,
      number,
    ],
    running: Number(r.running),
    retrying: Number(r.retrying),
    started: Number(r.started),
    waitP50Ms: n(r.wait_p50_ms),
    waitP95Ms: n(r.wait_p95_ms),
    waitMaxMs: n(r.wait_max_ms),
    oldestWaitMs: n(r.oldest_wait_ms),
  };
}

/** The reads of a minute's inputs that take no parameter, shared by both stores. */
export const SAMPLE_READS = {
  counters: 'SELECT team_id AS "teamId", priority, status, n FROM queue_counters WHERE n <> 0',
  // One look into the (team_id, queued_at) index of pending tasks per team, not a pass over every pending task.
  oldest: `SELECT o."teamId", o."queuedAt" FROM (
      SELECT tm.id AS "teamId",
        (SELECT MIN(t.queued_at) FROM tasks t WHERE t.status = 'pending' AND t.team_id = tm.id) AS "queuedAt"
      FROM teams tm) o
    WHERE o."queuedAt" IS NOT NULL`,
} as const;
