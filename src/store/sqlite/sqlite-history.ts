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
import type { Statements } from './connection.js';

/**
 * Tasks that first started in [@from, @to): those that hold no slot any more
 * through tasks_started_at, those that do (a fleet's slots at most) through
 * an index of active tasks (tasks_status here, tasks_leases on PostgreSQL).
 */
export const SQLITE_STARTS = `SELECT team_id AS teamId, started_at - queued_at AS waitMs FROM tasks
  WHERE started_at >= @from AND started_at < @to AND started_at >= queued_at
    AND status NOT IN ('assigned', 'running', 'cancelling')
  UNION ALL
  SELECT team_id AS teamId, started_at - queued_at AS waitMs FROM tasks
  WHERE status IN ('assigned', 'running', 'cancelling') AND started_at >= @from AND started_at < @to AND started_at >= queued_at`;

/** Earlier completed runs of a command on a machine, newest first, through tasks_usual_runs. */
export const SQLITE_USUAL_RUNS = `SELECT a.finished_at - a.started_at AS ms FROM tasks p
  JOIN attempts a ON a.task_seq = p.seq AND a.attempt = p.attempts
  WHERE p.status = 'completed' AND p.machine_id = ? AND substr(p.command, 1, 256) = substr(?, 1, 256)
    AND p.command = ? AND p.seq <> ? AND a.started_at IS NOT NULL AND a.finished_at IS NOT NULL
  ORDER BY p.finished_at DESC LIMIT ?`;

interface RunRow {
  seq: number;
  task_id: string;
  team: string;
  status: string;
  machine_id: number | null;
  machine_name: string | null;
  command: string;
  attempt_started_at: number | null;
}

export class SqliteHistory implements HistoryStore {
  constructor(private readonly st: Statements) {}

  async sampleQueue(minute: number, now: number): Promise<boolean> {
    const insert = this.st.get(`${INSERT_SAMPLE} VALUES (${'?, '.repeat(14)}?) ON CONFLICT DO NOTHING`);
    const write = this.st.db.transaction(() => {
      const done = this.st
        .get('SELECT 1 FROM queue_samples WHERE team_id = ? AND minute = ?')
        .get(ALL_TEAMS, minute);
      if (done !== undefined) return false;
      const [all, ...teams] = buildSamples({
        minute,
        takenAt: now,
        counters: this.st.get(SAMPLE_READS.counters).all() as SampleInput['counters'],
        // A task re-queued by hand keeps its first start and is not counted again.
        starts: this.st
          .get(SQLITE_STARTS)
          .all({ from: minute, to: minute + MINUTE_MS }) as SampleInput['starts'],
        oldest: this.st.get(SAMPLE_READS.oldest).all() as SampleInput['oldest'],
      });
      // The all-teams row claims the minute: written first, and nothing more if it was there.
      if (all === undefined || insert.run(...sampleValues(all)).changes === 0) return false;
      for (const r of teams) insert.run(...sampleValues(r));
      return true;
    });
    return write.immediate();
  }

  async pruneQueueSamples(before: number): Promise<number> {
    return this.st.get('DELETE FROM queue_samples WHERE minute < ?').run(before).changes;
  }

  async queueSamples(f: {
    since: number;
    until: number;
    teams: ReadonlySet<string> | null;
  }): Promise<{ minutes: number[]; rows: SampleRecord[] }> {
    const read = this.st.db.transaction(() => {
      const all = this.st
        .get(
          `SELECT ${SAMPLE_COLUMNS} FROM queue_samples s WHERE s.team_id = ? AND s.minute >= ? AND s.minute < ?
           ORDER BY s.minute`,
        )
        .all(ALL_TEAMS, f.since, f.until) as SampleRow[];
      const minutes = all.map((r) => Number(r.minute));
      if (f.teams === null) return { minutes, rows: all.map(toSample) };
      const rows = this.st
        .get(
          `SELECT ${SAMPLE_COLUMNS} FROM queue_samples s
           WHERE s.team_id IN (SELECT id FROM teams WHERE name IN (SELECT value FROM json_each(?)))
             AND s.minute >= ? AND s.minute < ? ORDER BY s.minute, s.team_id`,
        )
        .all(JSON.stringify([...f.teams]), f.since, f.until) as SampleRow[];
      return { minutes, rows: rows.map(toSample) };
    });
    return read.deferred();
  }

  async usualRuns(taskIds: readonly string[], runs: number): Promise<TaskRunHistory[]> {
    const read = this.st.db.transaction(() => {
      const out: TaskRunHistory[] = [];
      for (const id of new Set(taskIds)) {
        const t = this.st
          .get(
            `SELECT t.seq, t.task_id, tm.name AS team, t.status, t.machine_id,
               CASE WHEN t.machine_id IS NULL THEN NULL ELSE t.machine_name END AS machine_name, t.command,
               a.started_at AS attempt_started_at
             FROM tasks t JOIN teams tm ON tm.id = t.team_id
             LEFT JOIN attempts a ON a.task_seq = t.seq AND a.attempt = t.attempts
             WHERE t.task_id = ?`,
          )
          .get(id) as RunRow | undefined;
        if (t === undefined) continue;
        const earlier =
          t.machine_id === null
            ? []
            : (this.st.get(SQLITE_USUAL_RUNS).all(t.machine_id, t.command, t.command, t.seq, runs) as {
                ms: number;
              }[]);
        out.push({
          taskId: t.task_id,
          team: t.team,
          status: t.status,
          machine: t.machine_name,
          attemptStartedAt: t.attempt_started_at,
          runsMs: earlier.map((r) => Number(r.ms)),
        });
      }
      return out;
    });
    return read.deferred();
  }
}
