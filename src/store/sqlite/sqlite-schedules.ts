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
import type { Statements } from './connection.js';
import { uniqueOr } from './util.js';

const gone = (name: string) => notFound('SCHEDULE_NOT_FOUND', `schedule '${name}' does not exist`);

/** Schedules in the SQLite file; one writer at a time makes every update a compare-and-set. */
export class SqliteSchedules implements ScheduleStore {
  constructor(private readonly st: Statements) {}

  async create(s: NewSchedule, now: number): Promise<Schedule> {
    const team = this.st.get('SELECT id FROM teams WHERE name = ?').get(s.team) as { id: number } | undefined;
    if (team === undefined) throw notFound('TEAM_NOT_FOUND', `team '${s.team}' does not exist`);
    try {
      this.st
        .get(
          `INSERT INTO schedules (schedule_id, name, team_id, cron, timezone, overlap, catch_up, paused, task,
             next_run_at, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          s.scheduleId,
          s.name,
          team.id,
          s.cron,
          s.timezone,
          s.overlap,
          s.catchUp ? 1 : 0,
          s.paused ? 1 : 0,
          JSON.stringify(s.task),
          s.nextRunAt,
          s.createdBy,
          now,
          now,
        );
    } catch (err) {
      throw uniqueOr(err, conflict('SCHEDULE_EXISTS', `schedule '${s.name}' already exists`));
    }
    return (await this.get(s.name)) as Schedule;
  }

  async get(name: string): Promise<Schedule | null> {
    const r = this.st.get(`${SCHEDULE_SELECT} WHERE s.name = ?`).get(name) as ScheduleRow | undefined;
    return r === undefined ? null : toSchedule(r);
  }

  async list(filter: { team?: string; teams?: ReadonlySet<string> | null }): Promise<Schedule[]> {
    const rows = (
      filter.team === undefined
        ? this.st.get(`${SCHEDULE_SELECT} ORDER BY s.name`).all()
        : this.st.get(`${SCHEDULE_SELECT} WHERE t.name = ? ORDER BY s.name`).all(filter.team)
    ) as ScheduleRow[];
    const teams = filter.teams;
    return rows.filter((r) => teams === null || teams === undefined || teams.has(r.team)).map(toSchedule);
  }

  async setPaused(name: string, paused: boolean, nextRunAt: number | null, now: number): Promise<Schedule> {
    const r = this.st
      .get('UPDATE schedules SET paused = ?, next_run_at = ?, updated_at = ? WHERE name = ?')
      .run(paused ? 1 : 0, nextRunAt, now, name);
    if (r.changes === 0) throw gone(name);
    return (await this.get(name)) as Schedule;
  }

  async delete(name: string): Promise<void> {
    if (this.st.get('DELETE FROM schedules WHERE name = ?').run(name).changes === 0) throw gone(name);
  }

  async due(now: number, staleBefore: number, limit: number): Promise<Schedule[]> {
    const rows = this.st
      .get(
        `SELECT * FROM (
           ${SCHEDULE_SELECT} WHERE s.paused = 0 AND s.pending_due_at IS NULL AND s.next_run_at <= ?
           UNION ALL
           ${SCHEDULE_SELECT} WHERE s.pending_due_at IS NOT NULL AND s.pending_since <= ?
         ) ORDER BY COALESCE(pending_due_at, next_run_at) LIMIT ?`,
      )
      .all(now, staleBefore, limit) as ScheduleRow[];
    return rows.map(toSchedule);
  }

  async claim(c: ScheduleClaim, now: number): Promise<boolean> {
    const r = this.st
      .get(
        `UPDATE schedules SET next_run_at = ?, pending_due_at = ?, pending_since = ?,
           last_due_at = COALESCE(?, last_due_at), last_outcome = COALESCE(?, last_outcome),
           last_detail = CASE WHEN ? IS NULL THEN last_detail ELSE ? END
         WHERE schedule_id = ? AND next_run_at = ? AND pending_due_at IS NULL AND paused = 0`,
      )
      .run(
        c.nextRunAt,
        c.fireDueAt,
        c.fireDueAt === null ? null : now,
        c.skipped?.dueAt ?? null,
        c.skipped?.outcome ?? null,
        c.skipped === null ? null : 1,
        c.skipped?.detail ?? null,
        c.scheduleId,
        c.expectedNextRunAt,
      );
    return r.changes > 0;
  }

  async retake(scheduleId: string, dueAt: number, staleBefore: number, now: number): Promise<boolean> {
    const r = this.st
      .get(
        `UPDATE schedules SET pending_since = ?
         WHERE schedule_id = ? AND pending_due_at = ? AND pending_since <= ?`,
      )
      .run(now, scheduleId, dueAt, staleBefore);
    return r.changes > 0;
  }

  async finishRun(scheduleId: string, dueAt: number, res: ScheduleRunResult, now: number): Promise<boolean> {
    const created = res.taskIds.length > 0;
    const r = this.st
      .get(
        `UPDATE schedules SET pending_due_at = NULL, pending_since = NULL,
           last_run_at = CASE WHEN ? THEN ? ELSE last_run_at END,
           last_task_ids = CASE WHEN ? THEN ? ELSE last_task_ids END,
           last_batch_id = CASE WHEN ? THEN ? ELSE last_batch_id END,
           last_due_at = ?, last_outcome = ?, last_detail = ?, updated_at = ?
         WHERE schedule_id = ? AND pending_due_at = ?`,
      )
      .run(
        created ? 1 : 0,
        dueAt,
        created ? 1 : 0,
        JSON.stringify(res.taskIds.slice(0, MAX_KEPT_TASK_IDS)),
        created ? 1 : 0,
        res.batchId,
        dueAt,
        res.outcome,
        res.detail,
        now,
        scheduleId,
        dueAt,
      );
    return r.changes > 0;
  }
}
