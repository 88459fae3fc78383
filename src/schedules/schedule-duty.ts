import type { Logger } from 'pino';
import { AppError, isAppError } from '../core/errors.js';
import { iso, MINUTE_MS, SECOND_MS } from '../core/time.js';
import { ACTIVE_STATUSES } from '../core/types.js';
import type { TaskService } from '../server/task-service.js';
import type { Schedule } from '../store/schedule-store.js';
import type { Store } from '../store/store.js';
import { DEFAULT_LATE_AFTER_MS, decide, type ScheduleOutcome } from './due.js';

export interface ScheduleDutyOptions {
  store: Store;
  service: TaskService;
  logger: Logger;
  clock?: () => number;
  /** How often due schedules are looked for. Default 1 s. */
  tickMs?: number;
  /** A due time handled later than this counts as missed (runs only with catch-up). Default 1 min. */
  lateAfterMs?: number;
  /** A run claimed this long ago without a recorded result is taken over by any replica. Default 1 min. */
  staleClaimMs?: number;
  /** Schedules handled per tick at most; the rest wait for the next tick. Default 100. */
  perTick?: number;
}

/** What one tick did; `lost`: another replica handled the due time first. */
export interface TickSummary {
  fired: number;
  skipped: number;
  failed: number;
  lost: number;
}

type Handled = 'fired' | 'skipped' | 'failed' | 'lost';

/** The actor and idempotency key of a run: the same on every replica, so a due time makes its tasks once. */
export const scheduleActor = (name: string) => `schedule:${name}`;
export const runKey = (scheduleId: string, dueAt: number) => `schedule:${scheduleId}:${dueAt}`;

/**
 * The periodic duty that turns due schedules into tasks, safe on any number
 * of replicas: a replica first claims a due time by compare-and-set on the
 * schedule's next run time (the loser does nothing), then creates the tasks
 * with the idempotency key `schedule:<id>:<dueAt>`, then records the result.
 * A replica that stops between claim and record leaves the run pending; after
 * `staleClaimMs` another one takes it over and the key makes sure the tasks
 * exist once.
 */
export class ScheduleDuty {
  private readonly store: Store;
  private readonly service: TaskService;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly tickMs: number;
  private readonly lateAfterMs: number;
  private readonly staleClaimMs: number;
  private readonly perTick: number;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private busy = false;

  constructor(o: ScheduleDutyOptions) {
    this.store = o.store;
    this.service = o.service;
    this.log = o.logger;
    this.clock = o.clock ?? Date.now;
    this.tickMs = o.tickMs ?? SECOND_MS;
    this.lateAfterMs = o.lateAfterMs ?? DEFAULT_LATE_AFTER_MS;
    this.staleClaimMs = o.staleClaimMs ?? MINUTE_MS;
    this.perTick = o.perTick ?? 100;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (!this.busy) void this.tick().catch(() => {});
    }, this.tickMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a tick in progress. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.chain.catch(() => {});
  }

  /** Handles every schedule due now; ticks of one process run one after another. */
  tick(): Promise<TickSummary> {
    const run = this.chain.catch(() => {}).then(() => this.runTick());
    this.chain = run;
    return run;
  }

  private async runTick(): Promise<TickSummary> {
    this.busy = true;
    const summary: TickSummary = { fired: 0, skipped: 0, failed: 0, lost: 0 };
    try {
      const now = this.clock();
      const due = await this.store.schedules.due(now, now - this.staleClaimMs, this.perTick);
      for (const s of due) {
        try {
          summary[await this.handle(s, now)] += 1;
        } catch (err) {
          this.log.error({ err, schedule: s.name, team: s.team }, 'schedule run failed; retried later');
        }
      }
    } catch (err) {
      this.log.error({ err }, 'looking for due schedules failed');
    } finally {
      this.busy = false;
    }
    return summary;
  }

  private async handle(s: Schedule, now: number): Promise<Handled> {
    const schedules = this.store.schedules;
    if (s.pendingDueAt !== null) {
      if (!(await schedules.retake(s.scheduleId, s.pendingDueAt, now - this.staleClaimMs, now)))
        return 'lost';
      this.log.warn(
        { schedule: s.name, team: s.team, dueAt: iso(s.pendingDueAt) },
        'taking over a schedule run that another replica did not finish',
      );
      return this.fire(
        s,
        s.pendingDueAt,
        'created',
        'finished by another replica after the first one stopped',
      );
    }
    if (s.nextRunAt === null) return 'lost';
    const previousActive = s.overlap === 'skip' && (await this.previousActive(s));
    const d = decide(
      { cron: s.cron, timezone: s.timezone, nextRunAt: s.nextRunAt, catchUp: s.catchUp, overlap: s.overlap },
      now,
      previousActive,
      this.lateAfterMs,
    );
    const claimed = await schedules.claim(
      {
        scheduleId: s.scheduleId,
        expectedNextRunAt: s.nextRunAt,
        nextRunAt: d.nextRunAt,
        fireDueAt: d.kind === 'fire' ? d.dueAt : null,
        skipped: d.kind === 'skip' ? { dueAt: d.dueAt, outcome: d.outcome, detail: d.detail } : null,
      },
      now,
    );
    if (!claimed) return 'lost';
    if (d.kind === 'skip') {
      this.log.info(
        { schedule: s.name, team: s.team, dueAt: iso(d.dueAt), outcome: d.outcome, detail: d.detail },
        'schedule run skipped',
      );
      return 'skipped';
    }
    return this.fire(s, d.dueAt, d.outcome, d.detail);
  }

  /** Creates the run's tasks (once per due time, whichever replica asks) and records them. */
  private async fire(
    s: Schedule,
    dueAt: number,
    outcome: ScheduleOutcome,
    detail: string | null,
  ): Promise<Handled> {
    const log = { schedule: s.name, team: s.team, dueAt: iso(dueAt) };
    try {
      const created = await this.service.create(
        [{ ...s.task, team: s.team }],
        scheduleActor(s.name),
        false,
        (team, machine, field) => {
          if (team !== s.team) {
            throw new AppError('MACHINE_NOT_FOUND', `machine '${machine}' is not in team '${s.team}'`, 404, {
              field,
            });
          }
        },
        { idempotencyKey: runKey(s.scheduleId, dueAt) },
      );
      const taskIds = created.kind === 'task' ? [created.task.taskId] : created.taskIds;
      const batchId = created.kind === 'task' ? null : created.batchId;
      await this.store.schedules.finishRun(
        s.scheduleId,
        dueAt,
        { taskIds, batchId, outcome, detail },
        this.clock(),
      );
      this.log.info({ ...log, tasks: taskIds.length, batch: batchId, outcome }, 'schedule fired');
      return 'fired';
    } catch (err) {
      // A template that no longer fits (machine deleted, vault key gone) fails this due time only.
      if (!isAppError(err) || err.statusCode >= 500) throw err;
      await this.store.schedules.finishRun(
        s.scheduleId,
        dueAt,
        { taskIds: [], batchId: null, outcome: 'failed', detail: `${err.code}: ${err.message}` },
        this.clock(),
      );
      this.log.warn({ ...log, code: err.code, err: err.message }, 'schedule run failed: no tasks created');
      return 'failed';
    }
  }

  /** Whether a task of the last run still waits or runs. */
  private async previousActive(s: Schedule): Promise<boolean> {
    if (s.lastBatchId !== null) {
      const counts = await this.store.batchCounts(s.lastBatchId, null);
      return ACTIVE_STATUSES.some((status) => (counts[status] ?? 0) > 0);
    }
    for (const id of s.lastTaskIds) {
      const task = await this.store.getTask(id);
      if (task !== null && ACTIVE_STATUSES.includes(task.status)) return true;
    }
    return false;
  }
}
