import type { AttemptEnd } from '../../scheduler/transitions.js';
import { noteAttempt } from '../attempt-events.js';
import { alertsAfter, type Changes, endAttempt, type LiveRow, outcomeOf } from './pg-changes.js';
import type { Q } from './pg-connection.js';

export interface Ending {
  row: LiveRow;
  end: AttemptEnd;
  at: number;
}

/**
 * Ends many attempts of locked tasks with two set-based statements (attempts
 * and tasks) instead of one round trip each. Tasks of rolling batches (with a
 * limits row) go one by one, since each may halt its batch.
 */
export async function endAttempts(q: Q, endings: readonly Ending[], ch: Changes, random?: () => number) {
  if (endings.length === 0) return;
  const unknown = [
    ...new Set(endings.flatMap((e) => (e.row.batch_id === null ? [] : [e.row.batch_id]))),
  ].filter((b) => !ch.unlimitedBatches.has(b));
  if (unknown.length > 0) {
    const limited = new Set(
      (
        await q.rows<{ batch_id: string }>(
          'SELECT batch_id FROM batch_limits WHERE batch_id = ANY($1::text[])',
          [unknown],
        )
      ).map((r) => r.batch_id),
    );
    for (const b of unknown) if (!limited.has(b)) ch.unlimitedBatches.add(b);
  }
  const plain = endings.filter((e) => e.row.batch_id === null || ch.unlimitedBatches.has(e.row.batch_id));
  const isPlain = new Set(plain);
  const rolling = endings.filter((e) => !isPlain.has(e));
  if (plain.length > 0) {
    const decided = plain.map((e) => ({ ...e, out: outcomeOf(e.row, e.end, e.at, random) }));
    const started = await q.rows<{ seq: number; started_at: number | null }>(
      `WITH d AS (
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::float8[], $5::int[], $6::text[], $7::text[],
           $8::text[], $9::float8[], $10::float8[])
           AS d(seq, attempt, attempt_status, at, exit_code, signal, reason, status, finished_at, retry_at)),
       a AS (
         UPDATE attempts x SET status = d.attempt_status, finished_at = d.at, exit_code = d.exit_code,
           signal = d.signal, reason = d.reason
         FROM d WHERE x.task_seq = d.seq AND x.attempt = d.attempt RETURNING x.task_seq, x.started_at),
       t AS (
         UPDATE tasks x SET status = d.status, exit_code = d.exit_code, signal = d.signal, reason = d.reason,
           finished_at = d.finished_at, retry_at = d.retry_at, lease_expires_at = NULL
         FROM d WHERE x.seq = d.seq RETURNING x.seq)
       SELECT a.task_seq AS seq, a.started_at FROM a`,
      [
        decided.map((e) => e.row.seq),
        decided.map((e) => e.row.attempts),
        decided.map((e) => e.out.attemptStatus),
        decided.map((e) => e.at),
        decided.map((e) => e.end.exitCode),
        decided.map((e) => e.end.signal),
        decided.map((e) => e.out.reason),
        decided.map((e) => e.out.status),
        decided.map((e) => (e.out.status === 'retrying' ? null : e.at)),
        decided.map((e) => e.out.retryAt),
      ],
    );
    const startedAt = new Map(started.map((s) => [s.seq, s.started_at]));
    for (const { row, end, at, out } of decided) {
      const from = startedAt.get(row.seq) ?? null;
      noteAttempt(ch.summary, {
        teamId: row.team_id,
        priority: row.priority,
        ended: {
          status: out.attemptStatus,
          reason: out.reason,
          runMs: from === null ? null : Math.max(0, at - from),
        },
      });
      await alertsAfter(q, row, out, end, at, ch);
      ch.move(row, out.status);
      row.status = out.status;
    }
  }
  for (const e of rolling) await endAttempt(q, e.row, e.end, e.at, ch, random);
}
