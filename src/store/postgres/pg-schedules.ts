import { conflict, notFound } from '../../core/errors.js';
import { SCHEDULE_SELECT, type ScheduleRow, toSchedule } from '../schedule-rows.js';
import {
  MAX_KEPT_TASK_IDS,
  type NewSchedule,
  type Schedule,
  type ScheduleClaim,
  type ScheduleRunResult,
  type ScheduleStore,
} from '../schedule-store.js';
import type { PgDb } from './pg-connection.js';
import { uniqueOr } from './pg-rows.js';

const gone = (name: string) => notFound('SCHEDULE_NOT_FOUND', `schedule '${name}' does not exist`);

/**
 * Schedules in PostgreSQL. Every claim is one UPDATE whose WHERE names the
 * state the decision was made on: a replica that comes second waits for the
 * row lock, sees the changed row and touches nothing.
 */
export class PgSchedules implements ScheduleStore {
  constructor(private readonly db: PgDb) {}

  async create(s: NewSchedule, now: number): Promise<Schedule> {
    const row = await this.db.tx(async (q) => {
      const team = await q.one<{ id: number }>('SELECT id FROM teams WHERE name = $1', [s.team]);
      if (team === undefined) throw notFound('TEAM_NOT_FOUND', `team '${s.team}' does not exist`);
      try {
        await q.run(
          `INSERT INTO schedules (schedule_id, name, team_id, cron, timezone, overlap, catch_up, paused, task,
             next_run_at, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
          [
            s.scheduleId,
            s.name,
            team.id,
            s.cron,
            s.timezone,
            s.overlap,
            s.catchUp,
            s.paused,
            JSON.stringify(s.task),
            s.nextRunAt,
            s.createdBy,
            now,
          ],
        );
      } catch (err) {
        throw uniqueOr(err, conflict('SCHEDULE_EXISTS', `schedule '${s.name}' already exists`));
      }
      return q.one<ScheduleRow>(`${SCHEDULE_SELECT} WHERE s.schedule_id = $1`, [s.scheduleId]);
    });
    return toSchedule(row as ScheduleRow);
  }

  async get(name: string): Promise<Schedule | null> {
    const r = await this.db.one<ScheduleRow>(`${SCHEDULE_SELECT} WHERE s.name = $1`, [name]);
    return r === undefined ? null : toSchedule(r);
  }

  async list(filter: { team?: string; teams?: ReadonlySet<string> | null }): Promise<Schedule[]> {
    const rows =
      filter.team === undefined
        ? await this.db.rows<ScheduleRow>(`${SCHEDULE_SELECT} ORDER BY s.name`)
        : await this.db.rows<ScheduleRow>(`${SCHEDULE_SELECT} WHERE t.name = $1 ORDER BY s.name`, [
            filter.team,
          ]);
    const teams = filter.teams;
    return rows.filter((r) => teams === null || teams === undefined || teams.has(r.team)).map(toSchedule);
  }

  async setPaused(name: string, paused: boolean, nextRunAt: number | null, now: number): Promise<Schedule> {
    const n = await this.db.run(
      'UPDATE schedules SET paused = $1, next_run_at = $2, updated_at = $3 WHERE name = $4',
      [paused, nextRunAt, now, name],
    );
    if (n === 0) throw gone(name);
    return (await this.get(name)) as Schedule;
  }

  async delete(name: string): Promise<void> {
    if ((await this.db.run('DELETE FROM schedules WHERE name = $1', [name])) === 0) throw gone(name);
  }

  async due(now: number, staleBefore: number, limit: number): Promise<Schedule[]> {
    const rows = await this.db.rows<ScheduleRow>(
      `SELECT * FROM (
         ${SCHEDULE_SELECT} WHERE NOT s.paused AND s.pending_due_at IS NULL AND s.next_run_at <= $1
         UNION ALL
         ${SCHEDULE_SELECT} WHERE s.pending_due_at IS NOT NULL AND s.pending_since <= $2
       ) AS d ORDER BY COALESCE(d.pending_due_at, d.next_run_at) LIMIT $3`,
      [now, staleBefore, limit],
    );
    return rows.map(toSchedule);
  }

  async claim(c: ScheduleClaim, now: number): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE schedules SET next_run_at = $1, pending_due_at = $2, pending_since = $3,
         last_due_at = COALESCE($4, last_due_at), last_outcome = COALESCE($5, last_outcome),
         last_detail = CASE WHEN $6 THEN $7 ELSE last_detail END
       WHERE schedule_id = $8 AND next_run_at = $9 AND pending_due_at IS NULL AND NOT paused`,
      [
        c.nextRunAt,
        c.fireDueAt,
        c.fireDueAt === null ? null : now,
        c.skipped?.dueAt ?? null,
        c.skipped?.outcome ?? null,
        c.skipped !== null,
        c.skipped?.detail ?? null,
        c.scheduleId,
        c.expectedNextRunAt,
      ],
    );
    return n > 0;
  }

  async retake(scheduleId: string, dueAt: number, staleBefore: number, now: number): Promise<boolean> {
    const n = await this.db.run(
      `UPDATE schedules SET pending_since = $1
       WHERE schedule_id = $2 AND pending_due_at = $3 AND pending_since <= $4`,
      [now, scheduleId, dueAt, staleBefore],
    );
    return n > 0;
  }

  async finishRun(scheduleId: string, dueAt: number, res: ScheduleRunResult, now: number): Promise<boolean> {
    const created = res.taskIds.length > 0;
    const n = await this.db.run(
      `UPDATE schedules SET pending_due_at = NULL, pending_since = NULL,
         last_run_at = CASE WHEN $1 THEN $2 ELSE last_run_at END,
         last_task_ids = CASE WHEN $1 THEN $3 ELSE last_task_ids END,
         last_batch_id = CASE WHEN $1 THEN $4 ELSE last_batch_id END,
         last_due_at = $2, last_outcome = $5, last_detail = $6, updated_at = $7
       WHERE schedule_id = $8 AND pending_due_at = $2`,
      [
        created,
        dueAt,
        JSON.stringify(res.taskIds.slice(0, MAX_KEPT_TASK_IDS)),
        res.batchId,
        res.outcome,
        res.detail,
        now,
        scheduleId,
      ],
    );
    return n > 0;
  }
}
