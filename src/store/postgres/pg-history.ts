import {
  ALL_TEAMS,
  buildSamples,
  MINUTE_MS,
  type SampleInput,
  type SampleRecord,
} from '../../history/queue-samples.js';
import {
  INSERT_SAMPLE,
  SAMPLE_COLUMNS,
  SAMPLE_READS,
  type SampleRow,
  sampleValues,
  toSample,
} from '../history-rows.js';
import type { HistoryStore, TaskRunHistory } from '../history-store.js';
import type { PgDb } from './pg-connection.js';

const PLACEHOLDERS = Array.from({ length: 15 }, (_, i) => `$${i + 1}`).join(', ');

/** Tasks that first started in [$1, $2): as SQLITE_STARTS. */
export const PG_STARTS = `SELECT team_id AS "teamId", started_at - queued_at AS "waitMs" FROM tasks
  WHERE started_at >= $1 AND started_at < $2 AND started_at >= queued_at
    AND status NOT IN ('assigned', 'running', 'cancelling')
  UNION ALL
  SELECT team_id AS "teamId", started_at - queued_at AS "waitMs" FROM tasks
  WHERE status IN ('assigned', 'running', 'cancelling') AND started_at >= $1 AND started_at < $2 AND started_at >= queued_at`;

/** For each task of $1, up to $2 earlier completed runs: a LATERAL look-up through tasks_usual_runs. */
export const PG_USUAL_RUNS = `SELECT c.task_id, c.team, c.status, c.machine, c.attempt_started_at, r.ms
       FROM (
         SELECT t.seq, t.task_id, tm.name AS team, t.status, t.machine_id, t.command,
           CASE WHEN t.machine_id IS NULL THEN NULL ELSE t.machine_name END AS machine,
           a.started_at AS attempt_started_at
         FROM tasks t JOIN teams tm ON tm.id = t.team_id
         LEFT JOIN attempts a ON a.task_seq = t.seq AND a.attempt = t.attempts
         WHERE t.task_id = ANY($1::text[])
       ) c
       LEFT JOIN LATERAL (
         SELECT pa.finished_at - pa.started_at AS ms, p.finished_at FROM tasks p
         JOIN attempts pa ON pa.task_seq = p.seq AND pa.attempt = p.attempts
         WHERE p.status = 'completed' AND p.machine_id = c.machine_id AND md5(p.command) = md5(c.command)
           AND p.command = c.command AND p.seq <> c.seq AND pa.started_at IS NOT NULL AND pa.finished_at IS NOT NULL
         ORDER BY p.finished_at DESC LIMIT $2
       ) r ON true
       ORDER BY c.task_id, r.finished_at DESC`;

interface RunRow {
  task_id: string;
  team: string;
  status: string;
  machine: string | null;
  attempt_started_at: number | null;
  ms: number | null;
}

export class PgHistory implements HistoryStore {
  constructor(private readonly db: PgDb) {}

  /**
   * Replicas that sample the same minute at once: both may read, but the
   * all-teams row goes in first with ON CONFLICT DO NOTHING; the second
   * insert waits for the first transaction and then inserts nothing, so the
   * loser writes no team row either.
   */
  async sampleQueue(minute: number, now: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      const done = await q.one('SELECT 1 FROM queue_samples WHERE team_id = $1 AND minute = $2', [
        ALL_TEAMS,
        minute,
      ]);
      if (done !== undefined) return false;
      const [all, ...teams] = buildSamples({
        minute,
        takenAt: now,
        counters: await q.rows<SampleInput['counters'][number]>(SAMPLE_READS.counters),
        // A task re-queued by hand keeps its first start and is not counted again.
        starts: await q.rows<SampleInput['starts'][number]>(PG_STARTS, [minute, minute + MINUTE_MS]),
        oldest: await q.rows<SampleInput['oldest'][number]>(SAMPLE_READS.oldest),
      });
      const insert = `${INSERT_SAMPLE} VALUES (${PLACEHOLDERS}) ON CONFLICT DO NOTHING`;
      if (all === undefined || (await q.run(insert, sampleValues(all))) === 0) return false;
      for (const r of teams) await q.run(insert, sampleValues(r));
      return true;
    });
  }

  async pruneQueueSamples(before: number): Promise<number> {
    return this.db.run('DELETE FROM queue_samples WHERE minute < $1', [before]);
  }

  async queueSamples(f: {
    since: number;
    until: number;
    teams: ReadonlySet<string> | null;
  }): Promise<{ minutes: number[]; rows: SampleRecord[] }> {
    return this.db.tx(async (q) => {
      const all = await q.rows<SampleRow>(
        `SELECT ${SAMPLE_COLUMNS} FROM queue_samples s WHERE s.team_id = $1 AND s.minute >= $2 AND s.minute < $3
         ORDER BY s.minute`,
        [ALL_TEAMS, f.since, f.until],
      );
      const minutes = all.map((r) => Number(r.minute));
      if (f.teams === null) return { minutes, rows: all.map(toSample) };
      const rows = await q.rows<SampleRow>(
        `SELECT ${SAMPLE_COLUMNS} FROM queue_samples s
         WHERE s.team_id IN (SELECT id FROM teams WHERE name = ANY($1::text[]))
           AND s.minute >= $2 AND s.minute < $3 ORDER BY s.minute, s.team_id`,
        [[...f.teams], f.since, f.until],
      );
      return { minutes, rows: rows.map(toSample) };
    });
  }

  /** One statement for every task: a LATERAL look-up through tasks_usual_runs (machine, md5 of the command). */
  async usualRuns(taskIds: readonly string[], runs: number): Promise<TaskRunHistory[]> {
    if (taskIds.length === 0) return [];
    const rows = await this.db.rows<RunRow>(PG_USUAL_RUNS, [[...new Set(taskIds)], runs]);
    const byTask = new Map<string, TaskRunHistory>();
    for (const r of rows) {
      let t = byTask.get(r.task_id);
      if (t === undefined) {
        t = {
          taskId: r.task_id,
          team: r.team,
          status: r.status,
          machine: r.machine,
          attemptStartedAt: r.attempt_started_at === null ? null : Number(r.attempt_started_at),
          runsMs: [],
        };
        byTask.set(r.task_id, t);
      }
      if (r.ms !== null) t.runsMs.push(Number(r.ms));
    }
    // In the order asked (SQLite answers so too).
    return [...new Set(taskIds)].flatMap((id) => byTask.get(id) ?? []);
  }
}
