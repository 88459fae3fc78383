import { notFound } from '../../core/errors.js';
import type { OutputStream } from '../../core/types.js';
import { noteAttempt } from '../attempt-events.js';
import type { BridgeReport, OutputChunk, ReportOutcome } from '../store.js';
import { Changes, cancelsById, flush, LIVE_SELECT, type LiveRow } from './pg-changes.js';
import type { Q } from './pg-connection.js';
import { type Ending, endAttempts } from './pg-end-attempts.js';

const CAP_MARKER = '\n[rediacc: output cap reached; further output of this task is discarded]\n';

/**
 * A bridge's report on PostgreSQL, inside the caller's transaction: starts,
 * output, results and heartbeats of the attempts it runs.
 */
export async function report(q: Q, r: BridgeReport): Promise<ReportOutcome> {
  const bridge = await q.one<{ id: number }>('SELECT id FROM bridges WHERE name = $1', [r.bridge]);
  if (bridge === undefined) throw notFound('BRIDGE_NOT_FOUND', `bridge '${r.bridge}' is not registered`);
  const ch = new Changes();
  ch.seen = { bridgeId: bridge.id, at: r.now };

  // Lock every task of this bridge the report is about, in seq order, before changing any of them.
  const ids = [...new Set([...r.started, ...r.output, ...r.results, ...r.running].map((x) => x.taskId))];
  const rows = new Map<string, LiveRow>();
  if (ids.length > 0) {
    for (const row of await q.rows<LiveRow>(
      `${LIVE_SELECT} WHERE t.task_id = ANY($1::text[]) AND t.bridge_id = $2
       AND t.status IN ('assigned', 'running', 'cancelling') ORDER BY t.seq FOR UPDATE OF t`,
      [ids, bridge.id],
    ))
      rows.set(row.task_id, row);
  }
  const ours = (taskId: string, attempt: number): LiveRow | null => {
    const row = rows.get(taskId);
    return row !== undefined &&
      row.attempts === attempt &&
      (row.status === 'assigned' || row.status === 'running' || row.status === 'cancelling')
      ? row
      : null;
  };

  // Starts in one go; a start repeated in the report counts once, at its first time.
  const starts = new Map<number, { row: LiveRow; at: number }>();
  for (const s of r.started) {
    const row = ours(s.taskId, s.attempt);
    if (row !== null && !starts.has(row.seq)) starts.set(row.seq, { row, at: s.at });
  }
  if (starts.size > 0) {
    const all = [...starts.values()];
    await q.run(
      `UPDATE attempts a SET started_at = d.at FROM unnest($1::bigint[], $2::int[], $3::float8[]) AS d(seq, attempt, at)
       WHERE a.task_seq = d.seq AND a.attempt = d.attempt AND a.started_at IS NULL`,
      [all.map((x) => x.row.seq), all.map((x) => x.row.attempts), all.map((x) => x.at)],
    );
    const assigned = all.filter((x) => x.row.status === 'assigned');
    if (assigned.length > 0) {
      await q.run(
        `UPDATE tasks t SET status = 'running', started_at = COALESCE(t.started_at, d.at)
         FROM unnest($1::bigint[], $2::float8[]) AS d(seq, at) WHERE t.seq = d.seq`,
        [assigned.map((x) => x.row.seq), assigned.map((x) => x.at)],
      );
    }
    for (const { row, at } of assigned) {
      ch.move(row, 'running');
      row.status = 'running';
      // The first start since the task entered the queue: its wait, for metrics.
      if (row.attempts === row.attempt_limit - row.retry_count) {
        noteAttempt(ch.summary, {
          teamId: row.team_id,
          priority: row.priority,
          waitMs: Math.max(0, at - row.queued_at),
        });
      }
    }
  }

  const stored = await storeOutput(q, r, ours);

  // Results in one go; a result repeated in the report counts once, its first.
  const endings = new Map<number, Ending>();
  for (const res of r.results) {
    const row = ours(res.taskId, res.attempt);
    if (row === null || endings.has(row.seq)) continue;
    endings.set(row.seq, { row, end: res, at: res.at });
  }
  await endAttempts(q, [...endings.values()], ch, r.random);
  ch.bridgeRunning(bridge.id, -endings.size);

  const cancel: { taskId: string; attempt: number }[] = [];
  if (r.running.length > 0) {
    const extended = await q.rows<{ task_id: string; attempts: number }>(
      `UPDATE tasks t SET lease_expires_at = $1
       FROM unnest($2::text[], $3::int[]) AS d(task_id, attempt)
       WHERE t.task_id = d.task_id AND t.attempts = d.attempt AND t.bridge_id = $4
         AND t.status IN ('assigned', 'running', 'cancelling')
       RETURNING t.task_id, t.attempts`,
      [r.now + r.leaseMs, r.running.map((x) => x.taskId), r.running.map((x) => x.attempt), bridge.id],
    );
    const live = new Set(extended.map((e) => `${e.task_id}|${e.attempts}`));
    for (const run of r.running) if (!live.has(`${run.taskId}|${run.attempt}`)) cancel.push(run);
  }
  await flush(q, ch);
  for (const c of await cancelsById(q, bridge.id)) {
    if (!cancel.some((x) => x.taskId === c.taskId)) cancel.push(c);
  }
  return { cancel, stored, changes: ch.summary };
}

/** Stores new output chunks, up to the task's output cap; a chunk number seen before is dropped. */
async function storeOutput(
  q: Q,
  r: BridgeReport,
  ours: (taskId: string, attempt: number) => LiveRow | null,
): Promise<{ taskId: string; chunk: OutputChunk }[]> {
  if (r.output.length === 0) return [];
  const last = new Map<string, { seq: number; attempt: number; chunk: number; changed: boolean }>();
  const candidates = r.output.filter((o) => ours(o.taskId, o.attempt) !== null);
  if (candidates.length > 0) {
    const keys = [...new Map(candidates.map((o) => [`${o.taskId}|${o.attempt}`, o])).values()];
    const found = await q.rows<{ seq: number; attempt: number; last_chunk: number }>(
      `SELECT a.task_seq AS seq, a.attempt, a.last_chunk FROM attempts a
       JOIN unnest($1::bigint[], $2::int[]) AS d(seq, attempt) ON a.task_seq = d.seq AND a.attempt = d.attempt`,
      [keys.map((o) => (ours(o.taskId, o.attempt) as LiveRow).seq), keys.map((o) => o.attempt)],
    );
    for (const f of found)
      last.set(`${f.seq}|${f.attempt}`, {
        seq: f.seq,
        attempt: f.attempt,
        chunk: f.last_chunk,
        changed: false,
      });
  }
  const pieces: {
    taskId: string;
    seq: number;
    attempt: number;
    stream: OutputStream;
    at: number;
    data: string;
  }[] = [];
  const touched = new Set<LiveRow>();
  for (const o of r.output) {
    const row = ours(o.taskId, o.attempt);
    if (row === null || row.output_capped) continue;
    const l = last.get(`${row.seq}|${o.attempt}`);
    if (l === undefined || o.chunk <= l.chunk) continue;
    l.chunk = o.chunk;
    l.changed = true;
    let data = o.data;
    let bytes = Buffer.byteLength(data);
    const room = r.outputCapBytes - row.output_bytes;
    const capped = bytes > room;
    if (capped) {
      data = Buffer.from(data)
        .subarray(0, Math.max(0, room))
        .toString('utf8')
        .replace(/\uFFFD$/, '');
      bytes = Buffer.byteLength(data);
    }
    const base = { taskId: o.taskId, seq: row.seq, attempt: o.attempt, at: o.at };
    if (data.length > 0) pieces.push({ ...base, stream: o.stream, data });
    if (capped) pieces.push({ ...base, stream: 'system', data: CAP_MARKER });
    row.output_bytes += bytes;
    row.output_capped = capped;
    touched.add(row);
  }
  const moved = [...last.values()].filter((l) => l.changed);
  if (moved.length > 0) {
    await q.run(
      `UPDATE attempts a SET last_chunk = d.chunk FROM unnest($1::bigint[], $2::int[], $3::int[]) AS d(seq, attempt, chunk)
       WHERE a.task_seq = d.seq AND a.attempt = d.attempt`,
      [moved.map((l) => l.seq), moved.map((l) => l.attempt), moved.map((l) => l.chunk)],
    );
  }
  const stored: { taskId: string; chunk: OutputChunk }[] = [];
  if (pieces.length > 0) {
    // Ids come from the sequence in insertion order, which follows the pieces' order.
    const ids = (
      await q.rows<{ id: number }>(
        `INSERT INTO output_chunks (task_seq, attempt, stream, at, data)
         SELECT d.seq, d.attempt, d.stream, d.at, d.data
         FROM unnest($1::bigint[], $2::int[], $3::text[], $4::float8[], $5::bytea[]) WITH ORDINALITY
           AS d(seq, attempt, stream, at, data, ord)
         ORDER BY d.ord RETURNING id`,
        [
          pieces.map((p) => p.seq),
          pieces.map((p) => p.attempt),
          pieces.map((p) => p.stream),
          pieces.map((p) => p.at),
          pieces.map((p) => Buffer.from(p.data, 'utf8')),
        ],
      )
    )
      .map((r) => r.id)
      .sort((a, b) => a - b);
    pieces.forEach((p, i) => {
      stored.push({
        taskId: p.taskId,
        chunk: { id: ids[i] as number, attempt: p.attempt, stream: p.stream, at: p.at, data: p.data },
      });
    });
  }
  if (touched.size > 0) {
    const rows = [...touched];
    await q.run(
      `UPDATE tasks t SET output_bytes = d.bytes, output_capped = d.capped
       FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) AS d(seq, bytes, capped) WHERE t.seq = d.seq`,
      [rows.map((x) => x.seq), rows.map((x) => x.output_bytes), rows.map((x) => x.output_capped)],
    );
  }
  return stored;
}
