import type { OverlapPolicy, ScheduleOutcome } from '../schedules/due.js';
import type { Schedule } from './schedule-store.js';

/** A `schedules` row joined with its team's name, as both adapters read it. */
export interface ScheduleRow {
  schedule_id: string;
  name: string;
  team: string;
  cron: string;
  timezone: string;
  overlap: string;
  catch_up: number | boolean;
  paused: number | boolean;
  task: string;
  next_run_at: number | null;
  pending_due_at: number | null;
  pending_since: number | null;
  last_run_at: number | null;
  last_task_ids: string;
  last_batch_id: string | null;
  last_due_at: number | null;
  last_outcome: string | null;
  last_detail: string | null;
  created_by: string | null;
  created_at: number;
  updated_at: number;
}

export const SCHEDULE_SELECT = `SELECT s.schedule_id, s.name, t.name AS team, s.cron, s.timezone, s.overlap,
  s.catch_up, s.paused, s.task, s.next_run_at, s.pending_due_at, s.pending_since, s.last_run_at, s.last_task_ids,
  s.last_batch_id, s.last_due_at, s.last_outcome, s.last_detail, s.created_by, s.created_at, s.updated_at
  FROM schedules s JOIN teams t ON t.id = s.team_id`;

export function toSchedule(r: ScheduleRow): Schedule {
  return {
    scheduleId: r.schedule_id,
    name: r.name,
    team: r.team,
    cron: r.cron,
    timezone: r.timezone,
    overlap: r.overlap as OverlapPolicy,
    catchUp: Boolean(r.catch_up),
    paused: Boolean(r.paused),
    task: JSON.parse(r.task) as Schedule['task'],
    nextRunAt: r.next_run_at,
    pendingDueAt: r.pending_due_at,
    pendingSince: r.pending_since,
    lastRunAt: r.last_run_at,
    lastTaskIds: JSON.parse(r.last_task_ids) as string[],
    lastBatchId: r.last_batch_id,
    lastDueAt: r.last_due_at,
    lastOutcome: r.last_outcome as ScheduleOutcome | null,
    lastDetail: r.last_detail,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
