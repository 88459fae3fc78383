import type { TaskStatus } from '../core/types.js';
import type { BatchSummary, RerunSource } from './insight-store.js';

/** Rows of the batch summary query, one per batch, status and team (both dialects). */
export interface BatchCountRow {
  batch_id: string;
  status: TaskStatus;
  team: string;
  n: number;
  created_at: number;
  first_seq: number;
  command: string;
  commands: number;
  created_by: string | null;
}

/** Folds per-status rows into one summary per batch, newest batch first. */
export function summariseBatchRows(rows: readonly BatchCountRow[]): BatchSummary[] {
  const byId = new Map<string, BatchSummary & { firstSeq: number }>();
  for (const r of rows) {
    let b = byId.get(r.batch_id);
    if (b === undefined) {
      b = {
        batchId: r.batch_id,
        createdAt: r.created_at,
        createdBy: r.created_by,
        total: 0,
        counts: {},
        command: r.command,
        commands: 0,
        teams: [],
        firstSeq: r.first_seq,
      };
      byId.set(r.batch_id, b);
    }
    const n = Number(r.n);
    b.total += n;
    b.counts[r.status] = (b.counts[r.status] ?? 0) + n;
    if (!b.teams.includes(r.team)) b.teams.push(r.team);
    // The command of the batch's first task; more than one distinct command in any group means several.
    if (r.first_seq < b.firstSeq) {
      b.firstSeq = r.first_seq;
      b.command = r.command;
      b.createdBy = r.created_by;
    }
    b.createdAt = Math.min(b.createdAt, r.created_at);
    b.commands = Math.max(b.commands, Number(r.commands));
  }
  return [...byId.values()]
    .sort((a, b) => (a.batchId < b.batchId ? 1 : a.batchId > b.batchId ? -1 : 0))
    .map(({ firstSeq: _, ...b }) => ({ ...b, teams: b.teams.sort() }));
}

/**
 * The newest candidates whose stored output fits `maxBytes` (the first always
 * does), at most `maxTasks`; `nextBeforeSeq` is set when older ones remain.
 */
export function cutToBudget(
  candidates: readonly { seq: number; bytes: number }[],
  maxTasks: number,
  maxBytes: number,
): { seqs: number[]; bytes: number; nextBeforeSeq: number | null } {
  const seqs: number[] = [];
  let bytes = 0;
  for (const c of candidates) {
    const size = Number(c.bytes);
    if (seqs.length >= maxTasks || (seqs.length > 0 && bytes + size > maxBytes)) break;
    seqs.push(Number(c.seq));
    bytes += size;
  }
  const more = candidates.length > seqs.length;
  return { seqs, bytes, nextBeforeSeq: more ? (seqs.at(-1) ?? null) : null };
}

/**
 * The first `count` candidates (a window from `cutToBudget`) in slices of at
 * most `sliceBytes` of stored output each (a slice holds at least one task),
 * in their order: SQLite reads a search slice by slice, letting other
 * requests run in between.
 */
export function sliceWindow(
  candidates: readonly { seq: number; bytes: number }[],
  count: number,
  sliceBytes: number,
): number[][] {
  const slices: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const c of candidates.slice(0, count)) {
    const size = Number(c.bytes);
    if (current.length > 0 && bytes + size > sliceBytes) {
      slices.push(current);
      current = [];
      bytes = 0;
    }
    current.push(Number(c.seq));
    bytes += size;
  }
  if (current.length > 0) slices.push(current);
  return slices;
}

/**
 * The note both stores add as a `system` chunk of its own where a task's
 * output reached its cap (CAP_MARKER in sqlite-output.ts and pg-report.ts):
 * never a failure's error line, so a failure's tail passes over it.
 */
export const OUTPUT_CAP_NOTE = '\n[rediacc: output cap reached; further output of this task is discarded]\n';

/** A failed task's row as both dialects return it for a re-run. */
export interface RerunRow {
  task_id: string;
  machine_name: string;
  team: string;
  command: string;
  priority: number;
  env: string;
  secret_env: string;
  retry_count: number;
  retry_delay_s: number;
  backoff: string;
  failure_action: string;
  timeout_s: number | null;
}

export function toRerunSource(r: RerunRow): RerunSource {
  return {
    taskId: r.task_id,
    machine: r.machine_name,
    team: r.team,
    command: r.command,
    priority: Number(r.priority),
    env: JSON.parse(r.env) as Record<string, string>,
    secretEnv: JSON.parse(r.secret_env) as Record<string, string>,
    retryCount: r.retry_count,
    retryDelaySeconds: r.retry_delay_s,
    backoff: r.backoff === 'exponential' ? 'exponential' : 'fixed',
    failureAction: r.failure_action === 'alert' ? 'alert' : 'none',
    timeoutSeconds: r.timeout_s,
  };
}
