import { Type } from 'typebox';
import { OVERLAP_POLICIES, SCHEDULE_OUTCOMES } from '../../schedules/due.js';
import { IsoTime, Name, QueryInt } from './common.js';
import { TaskInputSchema } from './task.js';

/** The task fields of `POST /tasks` (one task or a fan-out), plus when and how the schedule runs. */
export const CreateScheduleBody = Type.Object(
  {
    ...TaskInputSchema.properties,
    name: Name,
    cron: Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        '5 fields (minute hour day-of-month month day-of-week) or @hourly|@daily|@weekly|@monthly|@yearly',
    }),
    timezone: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone; default UTC' }),
    ),
    overlap: Type.Optional(
      Type.Enum(OVERLAP_POLICIES, {
        description: 'skip (default): no new run while the previous one waits or runs; allow: run anyway',
      }),
    ),
    catchUp: Type.Optional(
      Type.Boolean({
        description: 'after downtime, run once for the missed period (default: skip to the next time)',
      }),
    ),
    paused: Type.Optional(Type.Boolean({ description: 'create it paused' })),
  },
  { additionalProperties: false },
);

export const UpdateScheduleBody = Type.Object(
  { paused: Type.Boolean({ description: 'true pauses, false resumes from the next time after now' }) },
  { additionalProperties: false },
);

export const ListSchedulesQuery = Type.Object({ team: Type.Optional(Name) }, { additionalProperties: false });

export const GetScheduleQuery = Type.Object(
  { next: Type.Optional(QueryInt) },
  { additionalProperties: false },
);

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const ScheduleTaskOut = Type.Object({
  machine: Type.Optional(Type.String()),
  machines: Type.Optional(Type.Array(Type.String())),
  select: Type.Optional(Type.Record(Type.String(), Type.String())),
  all: Type.Optional(Type.Boolean()),
  region: Type.Optional(Type.String()),
  command: Type.String(),
  priority: Type.Integer(),
  retryCount: Type.Integer(),
  retryDelay: Type.Number(),
  backoff: Type.String(),
  failureAction: Type.String(),
  timeout: Type.Union([Type.Number(), Type.Null()]),
  env: Type.Array(Type.String(), { description: 'names of the plain variables; values are not returned' }),
  secretEnv: Type.Record(Type.String(), Type.String(), { description: 'name → vault key' }),
  allowInlineSecret: Type.Boolean(),
});

export const ScheduleOut = Type.Object({
  scheduleId: Type.String(),
  name: Type.String(),
  team: Type.String(),
  cron: Type.String(),
  timezone: Type.String(),
  overlap: Type.String(),
  catchUp: Type.Boolean(),
  paused: Type.Boolean(),
  task: ScheduleTaskOut,
  nextRunAt: IsoTime,
  nextRuns: Type.Array(Type.String(), { description: 'the coming run times (none while paused)' }),
  runPending: Type.Boolean({ description: 'a replica is creating the tasks of a due time right now' }),
  lastRunAt: IsoTime,
  lastTaskIds: Type.Array(Type.String()),
  lastBatchId: NullableString,
  lastDueAt: IsoTime,
  lastOutcome: Type.Union([Type.Enum(SCHEDULE_OUTCOMES), Type.Null()]),
  lastDetail: NullableString,
  createdBy: NullableString,
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
