import { AppError, invalid } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { parsePriority } from '../core/priority.js';
import type { Authorize, TaskExpander, TaskInput } from '../server/task-expand.js';
import type { Schedule } from '../store/schedule-store.js';
import type { Store } from '../store/store.js';
import { DEFAULT_TIMEZONE, nextRunAfter, parseCronSpec } from './cron.js';
import type { OverlapPolicy } from './due.js';

/** What a client sends to create a schedule: the task's fields and when it runs. */
export interface ScheduleInput extends TaskInput {
  name: string;
  cron: string;
  timezone?: string;
  overlap?: OverlapPolicy;
  catchUp?: boolean;
  paused?: boolean;
}

/**
 * Creating, pausing and resuming schedules. The task template is checked
 * exactly as `create task` checks a task (machines, selectors, vault keys,
 * inline credentials), but nothing is queued until the schedule fires.
 */
export class ScheduleService {
  constructor(
    private readonly store: Store,
    private readonly expander: TaskExpander,
    private readonly clock: () => number,
  ) {}

  /**
   * `authorize` is asked for the team of every machine (or selector), as when
   * creating a task; it throws to refuse. All of them must be in one team,
   * which then owns the schedule.
   */
  async create(input: ScheduleInput, createdBy: string | null, authorize: Authorize): Promise<Schedule> {
    const { name, cron, timezone, overlap, catchUp, paused, ...task } = input;
    const spec = parseCronSpec(cron, timezone ?? DEFAULT_TIMEZONE);
    const teams = new Set<string>();
    await this.expander.expand([task], createdBy, false, (team, machine, field) => {
      authorize(team, machine, field);
      teams.add(team);
    });
    if (teams.size !== 1) {
      throw invalid(
        `a schedule belongs to one team; its machines are in ${[...teams].join(', ')}`,
        task.machines === undefined ? 'machine' : 'machines',
      );
    }
    const team = [...teams][0] as string;
    const template: TaskInput = { ...task, team };
    if (task.priority !== undefined) template.priority = parsePriority(task.priority);
    const now = this.clock();
    return this.store.schedules.create(
      {
        scheduleId: uuidv7(),
        name,
        team,
        cron: spec.cron,
        timezone: spec.timezone,
        overlap: overlap ?? 'skip',
        catchUp: catchUp ?? false,
        paused: paused ?? false,
        task: template,
        nextRunAt: paused === true ? null : nextRunAfter(spec, now),
        createdBy,
      },
      now,
    );
  }

  /** Pausing keeps no next run; resuming starts from the first time after now (paused times never run). */
  async setPaused(schedule: Schedule, paused: boolean): Promise<Schedule> {
    if (schedule.paused === paused) return schedule;
    const now = this.clock();
    return this.store.schedules.setPaused(
      schedule.name,
      paused,
      paused ? null : nextRunAfter(schedule, now),
      now,
    );
  }

  async get(name: string): Promise<Schedule> {
    const s = await this.store.schedules.get(name);
    if (s === null) throw new AppError('SCHEDULE_NOT_FOUND', `schedule '${name}' does not exist`, 404);
    return s;
  }
}
