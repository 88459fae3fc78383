import type { OverlapPolicy, ScheduleOutcome } from '../schedules/due.js';
import type { TaskInput } from '../server/task-expand.js';

/**
 * A recurring schedule: a task template, a cron expression in a time zone,
 * and what became of its last due time. Owned by one team.
 */
export interface Schedule {
  scheduleId: string;
  name: string;
  team: string;
  cron: string;
  timezone: string;
  overlap: OverlapPolicy;
  catchUp: boolean;
  paused: boolean;
  /** The task fields as the client gave them (validated like `create task` when the schedule was made). */
  task: TaskInput;
  /** The earliest due time not yet handled; null while paused. */
  nextRunAt: number | null;
  /** A run claimed by a replica and not yet recorded (its due time), and since when. */
  pendingDueAt: number | null;
  pendingSince: number | null;
  /** The due time of the last run that created tasks, and those tasks. */
  lastRunAt: number | null;
  lastTaskIds: string[];
  lastBatchId: string | null;
  /** The last due time handled (run, skipped or failed), what became of it and why. */
  lastDueAt: number | null;
  lastOutcome: ScheduleOutcome | null;
  lastDetail: string | null;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewSchedule {
  scheduleId: string;
  name: string;
  team: string;
  cron: string;
  timezone: string;
  overlap: OverlapPolicy;
  catchUp: boolean;
  paused: boolean;
  task: TaskInput;
  nextRunAt: number | null;
  createdBy: string | null;
}

/** What a claim records: the new next run time and either a run to fire or a skipped due time. */
export interface ScheduleClaim {
  scheduleId: string;
  /** The `nextRunAt` the decision was made on; the claim fails if it changed meanwhile. */
  expectedNextRunAt: number;
  nextRunAt: number | null;
  /** Fire a run for this due time (pending until `finishRun`). */
  fireDueAt: number | null;
  /** The due time skipped instead, with its outcome. */
  skipped: { dueAt: number; outcome: ScheduleOutcome; detail: string } | null;
}

/** The recorded end of a fired run. */
export interface ScheduleRunResult {
  taskIds: string[];
  batchId: string | null;
  outcome: ScheduleOutcome;
  detail: string | null;
}

/** Most task ids kept per run (a fan-out keeps its batch id too). */
export const MAX_KEPT_TASK_IDS = 100;

/**
 * Schedules and their runs. The claim methods are compare-and-set updates,
 * so replicas that handle the same due time at once agree on one of them.
 */
export interface ScheduleStore {
  /** SCHEDULE_EXISTS (409) for a taken name, TEAM_NOT_FOUND (404) for an unknown team. */
  create(input: NewSchedule, now: number): Promise<Schedule>;
  get(name: string): Promise<Schedule | null>;
  /** By name; `teams`: only these teams (null or absent: all). */
  list(filter: { team?: string; teams?: ReadonlySet<string> | null }): Promise<Schedule[]>;
  /** Pauses (nextRunAt null) or resumes (nextRunAt given) a schedule; SCHEDULE_NOT_FOUND if it is gone. */
  setPaused(name: string, paused: boolean, nextRunAt: number | null, now: number): Promise<Schedule>;
  /** SCHEDULE_NOT_FOUND if it is gone. */
  delete(name: string): Promise<void>;
  /**
   * Schedules to look at, earliest first: active ones due at `now` without a
   * pending run, and pending runs claimed at or before `staleBefore` (their
   * replica stopped or failed before recording them).
   */
  due(now: number, staleBefore: number, limit: number): Promise<Schedule[]>;
  /** Compare-and-set on `nextRunAt` (and no pending run, not paused); false when another replica was first. */
  claim(claim: ScheduleClaim, now: number): Promise<boolean>;
  /** Takes over a pending run claimed at or before `staleBefore`; false when another replica was first. */
  retake(scheduleId: string, dueAt: number, staleBefore: number, now: number): Promise<boolean>;
  /** Records a fired run's result and clears the pending run; false if it was not pending (deleted). */
  finishRun(scheduleId: string, dueAt: number, result: ScheduleRunResult, now: number): Promise<boolean>;
}
