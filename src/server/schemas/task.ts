import { Type } from 'typebox';
import { PRIORITY_LABELS, TASK_STATUSES } from '../../core/types.js';
import { IsoTime, Name, QueryInt } from './common.js';

export const PriorityInput = Type.Union(
  [
    Type.Integer({ minimum: 1, maximum: 5 }),
    Type.Enum(Object.values(PRIORITY_LABELS)),
    Type.String({ pattern: '^[1-5]$' }),
  ],
  { description: '1 (critical) … 5 (low), or its label; default 3' },
);

const taskFields = {
  machine: Type.Optional(Name),
  machines: Type.Optional(
    Type.Array(Name, { minItems: 1, maxItems: 10_000, description: 'fan-out: one task each' }),
  ),
  // A NUL byte cannot reach a process (argv and environment are C strings).
  command: Type.Optional(Type.String({ minLength: 1, maxLength: 65_536, pattern: '^[^\\u0000]*$' })),
  priority: Type.Optional(PriorityInput),
  retryCount: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 100, description: 'further attempts after a failure' }),
  ),
  retryDelay: Type.Optional(
    Type.Number({ minimum: 0, maximum: 86_400, description: 'seconds between attempts' }),
  ),
  backoff: Type.Optional(Type.Union([Type.Literal('fixed'), Type.Literal('exponential')])),
  failureAction: Type.Optional(Type.Union([Type.Literal('alert'), Type.Literal('none')])),
  timeout: Type.Optional(
    Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 604_800 }), Type.Null()], {
      description: 'seconds',
    }),
  ),
  team: Type.Optional(Name),
  select: Type.Optional(
    Type.Record(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$' }),
      Type.String({ maxLength: 253 }),
      {
        minProperties: 1,
        maxProperties: 16,
        additionalProperties: false,
        description: 'labels: the task runs on the least loaded matching machine when a slot frees',
      },
    ),
  ),
  all: Type.Optional(Type.Boolean({ description: 'with select: one task on every matching machine' })),
  region: Type.Optional(Name),
  allowInlineSecret: Type.Optional(
    Type.Boolean({ description: 'accept a command that looks like it holds a credential (audited)' }),
  ),
  env: Type.Optional(
    Type.Record(
      Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' }),
      Type.String({ maxLength: 65_536, pattern: '^[^\\u0000]*$' }),
      // Names that do not match the pattern are refused, not ignored.
      { maxProperties: 100, additionalProperties: false },
    ),
  ),
};

export const TaskInputSchema = Type.Object(taskFields, { additionalProperties: false });

/** One task, or `{"tasks":[…]}` with up to 10,000 of them. */
export const CreateTasksBody = Type.Object(
  {
    ...taskFields,
    tasks: Type.Optional(Type.Array(TaskInputSchema, { minItems: 1, maxItems: 10_000 })),
    rolling: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]{1,6}%?$' })], {
        description: 'rolling fan-out: at most this many (or this share) of the batch at once',
      }),
    ),
    maxFailures: Type.Optional(
      Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]{1,6}%?$' })], {
        description:
          'once more tasks of the batch than this have failed, the rest is cancelled (ROLLOUT_HALTED)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const TaskStatusSchema = Type.Enum(TASK_STATUSES);

export const AttemptOut = Type.Object({
  attempt: Type.Integer(),
  status: Type.String(),
  bridge: Type.Union([Type.String(), Type.Null()]),
  assignedAt: IsoTime,
  startedAt: IsoTime,
  finishedAt: IsoTime,
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  signal: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
});

export const TaskOut = Type.Object({
  seq: Type.Integer({
    description: 'creation order; the next page of a list is before=<seq of the last one>',
  }),
  taskId: Type.String(),
  batchId: Type.Union([Type.String(), Type.Null()]),
  status: TaskStatusSchema,
  priority: Type.Integer(),
  priorityLabel: Type.String(),
  team: Type.String(),
  machine: Type.Union([Type.String(), Type.Null()]),
  command: Type.String(),
  env: Type.Array(Type.String(), {
    description: 'names of the environment variables set; values are never returned',
  }),
  secretEnv: Type.Record(Type.String(), Type.String(), {
    description: 'variables filled from the team vault: name → key',
  }),
  outputArchive: Type.Union([Type.String(), Type.Null()]),
  retryCount: Type.Integer(),
  retryDelay: Type.Number(),
  backoff: Type.String(),
  failureAction: Type.String(),
  timeout: Type.Union([Type.Number(), Type.Null()]),
  attempts: Type.Integer(),
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  signal: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  createdAt: IsoTime,
  startedAt: IsoTime,
  finishedAt: IsoTime,
  retryAt: IsoTime,
  outputBytes: Type.Integer(),
  outputCapped: Type.Boolean(),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  attemptHistory: Type.Optional(Type.Array(AttemptOut)),
});

export const BatchCreated = Type.Object({
  batchId: Type.String(),
  count: Type.Integer(),
  taskIds: Type.Array(Type.String()),
});

export const ListTasksQuery = Type.Object(
  {
    status: Type.Optional(TaskStatusSchema),
    machine: Type.Optional(Name),
    priority: Type.Optional(Type.String({ pattern: '^([1-5]|critical|high|normal|background|low)$' })),
    team: Type.Optional(Name),
    batch: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F-]{36}$' })),
    before: Type.Optional(QueryInt),
    limit: Type.Optional(QueryInt),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: '^[^\\u0000]*$',
        description: 'text in the command (any case), or the start of the task id',
      }),
    ),
  },
  { additionalProperties: false },
);

export const LogsQuery = Type.Object(
  {
    follow: Type.Optional(Type.String({ pattern: '^(0|1|true|false)$' })),
    after: Type.Optional(QueryInt),
    limit: Type.Optional(QueryInt),
  },
  { additionalProperties: false },
);

export const OutputChunkOut = Type.Object({
  id: Type.Integer(),
  attempt: Type.Integer(),
  stream: Type.String(),
  at: Type.String(),
  data: Type.String(),
});
