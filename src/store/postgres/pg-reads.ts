import type { Alert, Attempt, QueueStats, Task, TaskStatus } from '../../core/types.js';
import { buildQueueStats, type CounterRow, DEFAULT_BUSIEST, type LaneHead } from '../queue-stats.js';
import type { OutputChunk, TaskFilter } from '../store.js';
import type { PgDb } from './pg-connection.js';
import {
  type AlertRow,
  type AttemptRow,
  inTeams,
  type PgTaskRow,
  TASK_COLUMNS,
  TASK_FROM,
  toAlert,
  toAttempt,
  toTask,
} from './pg-rows.js';

/** Task history, output, alerts and queue counts on PostgreSQL. */
export class PgReads {
  constructor(private readonly db: PgDb) {}

  async getTask(taskId: string): Promise<Task | null> {
    const r = await this.db.one<PgTaskRow>(`SELECT ${TASK_COLUMNS} FROM ${TASK_FROM} WHERE t.task_id = $1`, [
      taskId,
    ]);
    return r === undefined ? null : toTask(r);
  }

  async getAttempts(taskId: string): Promise<Attempt[]> {
    const rows = await this.db.rows<AttemptRow>(
      `SELECT a.attempt, a.status, b.name AS bridge_name, a.assigned_at, a.started_at, a.finished_at, a.exit_code,
         a.signal, a.reason
       FROM attempts a JOIN tasks t ON t.seq = a.task_seq LEFT JOIN bridges b ON b.id = a.bridge_id
       WHERE t.task_id = $1 ORDER BY a.attempt`,
      [taskId],
    );
    return rows.map(toAttempt);
  }

  async listTasks(f: TaskFilter): Promise<Task[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      args.push(value);
      where.push(sql(`$${args.length}`));
    };
    if (f.status !== undefined) add((p) => `t.status = ${p}`, f.status);
    if (f.machine !== undefined) add((p) => `t.machine_name = ${p}`, f.machine);
    if (f.priority !== undefined) add((p) => `t.priority = ${p}`, f.priority);
    if (f.team !== undefined) add((p) => `tm.name = ${p}`, f.team);
    if (f.batchId !== undefined) add((p) => `t.batch_id = ${p}`, f.batchId);
    if (f.teams !== undefined && f.teams !== null) {
      if (f.teams.size === 0) return [];
      add((p) => `tm.name = ANY(${p}::text[])`, [...f.teams]);
    }
    if (f.beforeSeq !== undefined) add((p) => `t.seq < ${p}`, f.beforeSeq);
    if (f.text !== undefined) {
      add(
        (p) => `(strpos(lower(t.command), lower(${p})) > 0 OR left(t.task_id, length(${p})) = lower(${p}))`,
        f.text,
      );
    }
    args.push(f.limit);
    const sql = `SELECT ${TASK_COLUMNS} FROM ${TASK_FROM} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY t.seq DESC LIMIT $${args.length}`;
    return (await this.db.rows<PgTaskRow>(sql, args)).map(toTask);
  }

  async batchCounts(
    batchId: string,
    teams: ReadonlySet<string> | null,
  ): Promise<Partial<Record<TaskStatus, number>>> {
    const rows = await this.db.rows<{ status: TaskStatus; team: string; n: number }>(
      `SELECT t.status, tm.name AS team, COUNT(*) AS n FROM tasks t JOIN teams tm ON tm.id = t.team_id
       WHERE t.batch_id = $1 GROUP BY t.status, tm.name`,
      [batchId],
    );
    const counts: Partial<Record<TaskStatus, number>> = {};
    for (const r of rows) if (inTeams(r.team, teams)) counts[r.status] = (counts[r.status] ?? 0) + r.n;
    return counts;
  }

  async listOutput(taskId: string, afterId: number, limit: number): Promise<OutputChunk[]> {
    const rows = await this.db.rows<Omit<OutputChunk, 'data'> & { data: Buffer }>(
      `SELECT o.id, o.attempt, o.stream, o.at, o.data FROM output_chunks o
       WHERE o.task_seq = (SELECT seq FROM tasks WHERE task_id = $1) AND o.id > $2 ORDER BY o.id LIMIT $3`,
      [taskId, afterId, limit],
    );
    return rows.map((r) => ({ ...r, data: r.data.toString('utf8') }));
  }

  archiveCandidates(
    finishedBefore: number,
    limit: number,
  ): Promise<{ taskId: string; team: string; machine: string; finishedAt: number }[]> {
    return this.db.rows(
      `SELECT t.task_id AS "taskId", tm.name AS team, t.machine_name AS machine, t.finished_at AS "finishedAt"
       FROM tasks t JOIN teams tm ON tm.id = t.team_id
       WHERE t.finished_at IS NOT NULL AND t.output_archive IS NULL AND t.finished_at < $1
       ORDER BY t.finished_at LIMIT $2`,
      [finishedBefore, limit],
    );
  }

  async markOutputArchived(taskId: string, location: string): Promise<void> {
    await this.db.tx(async (q) => {
      const t = await q.one<{ seq: number }>('SELECT seq FROM tasks WHERE task_id = $1 FOR UPDATE', [taskId]);
      if (t === undefined) return;
      await q.run('DELETE FROM output_chunks WHERE task_seq = $1', [t.seq]);
      await q.run('UPDATE tasks SET output_archive = $1 WHERE seq = $2', [location, t.seq]);
    });
  }

  async listAlerts(filter: {
    team?: string;
    teams?: ReadonlySet<string> | null;
    limit: number;
  }): Promise<Alert[]> {
    const rows = await this.db.rows<AlertRow>(
      `SELECT a.id, a.kind, tm.name AS team_name, a.task_id, a.machine_name, a.message, a.created_at
       FROM alerts a JOIN teams tm ON tm.id = a.team_id WHERE ($1::text IS NULL OR tm.name = $1)
       ORDER BY a.id DESC LIMIT $2`,
      [filter.team ?? null, filter.limit],
    );
    return rows.map(toAlert).filter((a) => inTeams(a.team, filter.teams));
  }

  /** Counters of the given teams; read in one transaction, so they agree with each other. */
  async queueStats(
    now: number,
    teams: ReadonlySet<string> | null = null,
    options: { busiest?: number } = {},
  ): Promise<QueueStats> {
    const [counters, heads, busiest] = await this.db.tx(async (q) => [
      await q.rows<CounterRow>(
        `SELECT c.priority, c.status, tm.name AS team, c.n FROM queue_counters c JOIN teams tm ON tm.id = c.team_id`,
      ),
      // The head of each priority's global lane, through the partial index; literal priorities keep the
      // planner on that index when the queue holds one priority only.
      await q.rows<LaneHead>(
        [1, 2, 3, 4, 5]
          .map(
            (p) => `(SELECT ${p}::smallint AS priority, t.queued_at AS "queuedAt", tm.name AS team
               FROM tasks t JOIN teams tm ON tm.id = t.team_id
               WHERE t.status = 'pending' AND t.priority = ${p} ORDER BY t.seq LIMIT 1)`,
          )
          .join(' UNION ALL '),
      ),
      await q.rows<QueueStats['busiestMachines'][number]>(
        `SELECT m.name AS machine, tm.name AS team, m.running_count AS running, m.pending_count AS pending,
           m.concurrency FROM machines m JOIN teams tm ON tm.id = m.team_id
         WHERE (m.running_count > 0 OR m.pending_count > 0) AND ($1::text[] IS NULL OR tm.name = ANY($1::text[]))
         ORDER BY m.running_count DESC, m.pending_count DESC, m.name LIMIT $2`,
        [teams === null ? null : [...teams], options.busiest ?? DEFAULT_BUSIEST],
      ),
    ]);
    return buildQueueStats(counters, heads, busiest, now, teams);
  }
}
