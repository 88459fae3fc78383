import type { FailureReason, TaskStatus } from '../../core/types.js';
import { type AttemptEnd, outcomeOfAttempt, type TaskOutcome } from '../../scheduler/transitions.js';
import { noteAttempt } from '../attempt-events.js';
import { CounterDelta, MachineDelta } from '../counters.js';
import type { TransitionSummary } from '../store.js';
import type { Q } from './pg-connection.js';

/*
 * Lock order, so that concurrent units of work (on one server or several) do
 * not deadlock: task rows (by seq) → batch_limits → machines (by id) →
 * bridges (by id) → queue_counters (by key). Claiming takes its machines,
 * tasks and batch limits with SKIP LOCKED, so it never waits for them; it
 * waits only for its own bridge row (first) and the counters (last). A
 * deadlock that slips through all the same is run again by PgDb.tx.
 */

export interface LiveRow {
  seq: number;
  task_id: string;
  team_id: number;
  region_name: string;
  machine_id: number | null;
  machine_name: string;
  status: TaskStatus;
  priority: number;
  attempts: number;
  attempt_limit: number;
  retry_delay_s: number;
  backoff: 'fixed' | 'exponential';
  failure_action: 'alert' | 'none';
  bridge_id: number | null;
  output_bytes: number;
  output_capped: boolean;
  batch_id: string | null;
  lease_expires_at: number | null;
  retry_at: number | null;
  queued_at: number;
  retry_count: number;
}

export const LIVE_SELECT = `SELECT t.seq, t.task_id, t.team_id, r.name AS region_name, t.machine_id, t.machine_name,
  t.status, t.priority, t.attempts, t.attempt_limit, t.retry_delay_s, t.backoff, t.failure_action, t.bridge_id,
  t.output_bytes, t.output_capped, t.batch_id, t.lease_expires_at, t.retry_at, t.queued_at, t.retry_count
  FROM tasks t JOIN regions r ON r.id = t.region_id`;

/** One unit of work's bookkeeping: counters, machine slots, bridges, events. */
export class Changes {
  readonly counters = new CounterDelta();
  readonly machines = new MachineDelta();
  readonly bridges = new Map<number, number>();
  readonly summary: TransitionSummary = { tasks: [], alerts: 0 };
  /** The reporting bridge, whose last contact is written with the counts. */
  seen: { bridgeId: number; at: number } | null = null;
  /** Batches found to have no rolling limits in this unit of work: not looked up again per task. */
  readonly unlimitedBatches = new Set<string>();

  move(row: LiveRow, to: TaskStatus): void {
    this.counters.move(row.team_id, row.priority, row.status, to);
    this.machines.move(row.machine_id, row.status, to);
    this.summary.tasks.push({ taskId: row.task_id, status: to, region: row.region_name });
  }

  bridgeRunning(bridgeId: number | null, n: number): void {
    if (bridgeId !== null) this.bridges.set(bridgeId, (this.bridges.get(bridgeId) ?? 0) + n);
  }
}

/** Writes the collected counts, each kind of row in id order (see the lock order above). */
export async function flush(q: Q, ch: Changes): Promise<void> {
  const machines = [...ch.machines.entries()].sort((a, b) => a.machineId - b.machineId);
  if (machines.length > 0) {
    const ids = machines.map((m) => m.machineId);
    await q.run('SELECT 1 FROM machines WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE', [ids]);
    await q.run(
      `UPDATE machines m SET running_count = m.running_count + d.running, pending_count = m.pending_count + d.pending
       FROM unnest($1::bigint[], $2::int[], $3::int[]) AS d(id, running, pending) WHERE m.id = d.id`,
      [ids, machines.map((m) => m.running), machines.map((m) => m.pending)],
    );
  }
  const bridges = [...ch.bridges].filter(([, n]) => n !== 0);
  const seen = ch.seen;
  if (seen !== null && !bridges.some(([id]) => id === seen.bridgeId)) bridges.push([seen.bridgeId, 0]);
  bridges.sort((a, b) => a[0] - b[0]);
  if (bridges.length > 0) {
    const ids = bridges.map(([id]) => id);
    await q.run('SELECT 1 FROM bridges WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE', [ids]);
    await q.run(
      `UPDATE bridges b SET running_count = GREATEST(0, b.running_count + d.n),
         last_seen_at = CASE WHEN b.id = $3 THEN $4 ELSE b.last_seen_at END
       FROM unnest($1::bigint[], $2::int[]) AS d(id, n) WHERE b.id = d.id`,
      [ids, bridges.map(([, n]) => n), ch.seen?.bridgeId ?? null, ch.seen?.at ?? null],
    );
  }
  const counters = [...ch.counters.entries()].sort(
    (a, b) =>
      a.teamId - b.teamId ||
      a.priority - b.priority ||
      (a.status < b.status ? -1 : a.status > b.status ? 1 : 0),
  );
  if (counters.length > 0) {
    await q.run(
      `INSERT INTO queue_counters (team_id, priority, status, n)
       SELECT d.team_id, d.priority, d.status, d.n
       FROM unnest($1::bigint[], $2::smallint[], $3::text[], $4::int[]) WITH ORDINALITY AS d(team_id, priority, status, n, ord)
       ORDER BY d.ord
       ON CONFLICT (team_id, priority, status) DO UPDATE SET n = queue_counters.n + excluded.n`,
      [
        counters.map((c) => c.teamId),
        counters.map((c) => c.priority),
        counters.map((c) => c.status),
        counters.map((c) => c.n),
      ],
    );
  }
}

/** What the task becomes as its current attempt ends (retry policy). */
export function outcomeOf(row: LiveRow, end: AttemptEnd, at: number, random?: () => number): TaskOutcome {
  return outcomeOfAttempt(
    row.status,
    {
      attempt: row.attempts,
      attemptLimit: row.attempt_limit,
      retryDelaySeconds: row.retry_delay_s,
      backoff: row.backoff,
      failureAction: row.failure_action,
    },
    end,
    at,
    random,
  );
}

/** The alerts an ended attempt raises: a host key mismatch, a final failure with failureAction alert. */
export async function alertsAfter(
  q: Q,
  row: LiveRow,
  out: TaskOutcome,
  end: AttemptEnd,
  at: number,
  ch: Changes,
): Promise<void> {
  const alert = `INSERT INTO alerts (team_id, kind, task_id, machine_name, message, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)`;
  if (out.reason === 'HOST_KEY_MISMATCH') {
    await q.run(alert, [
      row.team_id,
      'host_key_mismatch',
      row.task_id,
      row.machine_name,
      `machine ${row.machine_name} presented a host key other than the pinned one; nothing ran`,
      at,
    ]);
    ch.summary.alerts += 1;
  }
  if (out.alert) {
    await q.run(alert, [
      row.team_id,
      'task_failed',
      row.task_id,
      row.machine_name,
      failureMessage(row, out.reason, end),
      at,
    ]);
    ch.summary.alerts += 1;
  }
}

/** Ends the current attempt of a locked task: retry policy, alerts, rolling-batch limits. */
export async function endAttempt(
  q: Q,
  row: LiveRow,
  end: AttemptEnd,
  at: number,
  ch: Changes,
  random?: () => number,
): Promise<void> {
  const out = outcomeOf(row, end, at, random);
  const final = out.status !== 'retrying';
  const ended = await q.one<{ started_at: number | null }>(
    `WITH a AS (
       UPDATE attempts SET status = $1, finished_at = $2, exit_code = $3, signal = $4, reason = $5
       WHERE task_seq = $6 AND attempt = $7 RETURNING started_at)
     UPDATE tasks SET status = $8, exit_code = $3, signal = $4, reason = $5, finished_at = $9, retry_at = $10,
       lease_expires_at = NULL WHERE seq = $6 RETURNING (SELECT a.started_at FROM a) AS started_at`,
    [
      out.attemptStatus,
      at,
      end.exitCode,
      end.signal,
      out.reason,
      row.seq,
      row.attempts,
      out.status,
      final ? at : null,
      out.retryAt,
    ],
  );
  const startedAt = ended?.started_at ?? null;
  noteAttempt(ch.summary, {
    teamId: row.team_id,
    priority: row.priority,
    ended: {
      status: out.attemptStatus,
      reason: out.reason,
      runMs: startedAt === null ? null : Math.max(0, at - startedAt),
    },
  });
  await alertsAfter(q, row, out, end, at, ch);
  const halted =
    row.batch_id !== null && (await batchAttemptEnded(q, row.batch_id, out.status === 'failed', at, ch));
  if (halted && out.status === 'retrying') {
    // A halted rollout starts nothing more, retries of attempts that were running at the halt included.
    await q.run(
      `UPDATE tasks SET status = 'cancelled', reason = 'ROLLOUT_HALTED', finished_at = $1, retry_at = NULL
       WHERE seq = $2`,
      [at, row.seq],
    );
    ch.move(row, 'cancelled');
    row.status = 'cancelled';
    return;
  }
  ch.move(row, out.status);
  row.status = out.status;
}

/**
 * Keeps a rolling fan-out's counts; past its failure limit the rest of the batch is cancelled.
 * True when the batch is halted (now or before).
 */
async function batchAttemptEnded(
  q: Q,
  batchId: string,
  failed: boolean,
  at: number,
  ch: Changes,
): Promise<boolean> {
  if (ch.unlimitedBatches.has(batchId)) return false;
  const limits = await q.one<{ max_failures: number | null; failed: number; halted_at: number | null }>(
    `UPDATE batch_limits SET running = GREATEST(0, running - 1), failed = failed + $1 WHERE batch_id = $2
     RETURNING max_failures, failed, halted_at`,
    [failed ? 1 : 0, batchId],
  );
  if (limits === undefined) {
    ch.unlimitedBatches.add(batchId);
    return false;
  }
  if (limits.max_failures === null) return false;
  if (limits.halted_at !== null) return true;
  if (limits.failed <= limits.max_failures) return false;
  await q.run('UPDATE batch_limits SET halted_at = $1 WHERE batch_id = $2', [at, batchId]);
  const waiting = await q.rows<LiveRow>(
    `${LIVE_SELECT} WHERE t.batch_id = $1 AND t.status IN ('pending', 'retrying') ORDER BY t.seq FOR UPDATE OF t`,
    [batchId],
  );
  if (waiting.length === 0) return true;
  await q.run(
    `UPDATE tasks SET status = 'cancelled', reason = 'ROLLOUT_HALTED', finished_at = $1, retry_at = NULL
     WHERE seq = ANY($2::bigint[])`,
    [at, waiting.map((w) => w.seq)],
  );
  for (const w of waiting) ch.move(w, 'cancelled');
  return true;
}

/** Tasks of this bridge whose cancellation it has to carry out. */
export function cancelsById(q: Q, bridgeId: number): Promise<{ taskId: string; attempt: number }[]> {
  return q.rows(
    `SELECT task_id AS "taskId", attempts AS attempt FROM tasks WHERE status = 'cancelling' AND bridge_id = $1
     ORDER BY seq`,
    [bridgeId],
  );
}

function failureMessage(row: LiveRow, reason: FailureReason | null, end: AttemptEnd): string {
  const how =
    end.exitCode !== null
      ? `exit code ${end.exitCode}`
      : end.signal !== null
        ? `signal ${end.signal}`
        : reason;
  return `task ${row.task_id} on ${row.machine_name} failed after ${row.attempts} attempt(s): ${reason} (${how})`;
}
