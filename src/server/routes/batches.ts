import { Type } from 'typebox';
import { AppError, conflict, notFound } from '../../core/errors.js';
import { iso } from '../../core/time.js';
import { actorOf, requireTeam, teamsOf } from '../auth.js';
import { groupFailures } from '../insights/failure-text.js';
import { ErrorBody, queryInt, Uuid } from '../schemas/common.js';
import { VAULT_PREFIX } from '../task-service.js';
import { type App, type RouteDeps, typed } from './deps.js';

/** Characters read of a failed attempt's last output chunk to find its error line. */
const TAIL_CHARS = 500;
/** Failures grouped per answer (the first ones, in creation order); the rest are only counted. */
const GROUP_MAX = 2_000;
/** Tasks listed per failure group. */
const GROUP_TASKS = 100;

const Params = Type.Object({ id: Uuid });
const Counts = Type.Record(Type.String(), Type.Integer());
const Time = Type.Union([Type.String(), Type.Null()]);
const hidden = (id: string) => ({ code: 'BATCH_NOT_FOUND', message: `batch ${id} does not exist` });

/** Batches (fan-outs, rollouts) for the dashboard: list, per-machine grid, failures by error text, re-run. */
export function batchRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, service } = deps;

  r.get(
    '/batches',
    {
      config: { permission: 'task:read' },
      schema: {
        summary: 'Batches of your teams, newest first, with counts per status; page with before=<batchId>',
        tags: ['batches'],
        querystring: Type.Object(
          {
            before: Type.Optional(Uuid),
            limit: Type.Optional(
              Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1-100, default 25' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Array(
            Type.Object({
              batchId: Type.String(),
              createdAt: Time,
              createdBy: Type.Union([Type.String(), Type.Null()]),
              total: Type.Integer(),
              counts: Counts,
              command: Type.String(),
              commands: Type.Integer(),
              teams: Type.Array(Type.String()),
            }),
          ),
        },
      },
    },
    async (request) => {
      const list = await store.insights.listBatches({
        teams: teamsOf(request),
        limit: queryInt(request.query.limit, 25),
        ...(request.query.before === undefined ? {} : { before: request.query.before.toLowerCase() }),
      });
      return list.map((b) => ({ ...b, createdAt: iso(b.createdAt) }));
    },
  );

  r.get(
    '/batches/:id/tasks',
    {
      config: { permission: 'task:read' },
      schema: {
        summary: 'Every task of a batch as a compact row (up to 10,000), in creation order',
        tags: ['batches'],
        params: Params,
        response: {
          200: Type.Object({
            batchId: Type.String(),
            total: Type.Integer(),
            counts: Counts,
            tasks: Type.Array(
              Type.Object({
                seq: Type.Integer(),
                taskId: Type.String(),
                machine: Type.String(),
                team: Type.String(),
                status: Type.String(),
                exitCode: Type.Union([Type.Integer(), Type.Null()]),
                signal: Type.Union([Type.String(), Type.Null()]),
                reason: Type.Union([Type.String(), Type.Null()]),
                attempts: Type.Integer(),
                startedAt: Time,
                finishedAt: Time,
              }),
            ),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const tasks = await store.insights.batchTasks(id, teamsOf(request));
      if (tasks.length === 0) throw notFound(hidden(id).code, hidden(id).message);
      const counts: Record<string, number> = {};
      for (const t of tasks) counts[t.status] = (counts[t.status] ?? 0) + 1;
      return {
        batchId: id,
        total: tasks.length,
        counts,
        tasks: tasks.map((t) => ({ ...t, startedAt: iso(t.startedAt), finishedAt: iso(t.finishedAt) })),
      };
    },
  );

  r.get(
    '/batches/:id/failures',
    {
      config: { permission: 'task:read' },
      schema: {
        summary:
          'The failed tasks of a batch grouped by error text (their last output line, normalised); ' +
          'the first 2,000 failures are grouped, the rest only counted (sampled)',
        tags: ['batches'],
        params: Params,
        response: {
          200: Type.Object({
            batchId: Type.String(),
            failed: Type.Integer({ description: 'failed tasks of the batch, all of them' }),
            grouped: Type.Integer({ description: 'failed tasks in the groups: the first 2,000' }),
            sampled: Type.Boolean({ description: 'more tasks failed than were grouped' }),
            groups: Type.Array(
              Type.Object({
                pattern: Type.String(),
                example: Type.String(),
                reasons: Type.Array(Type.String()),
                exitCodes: Type.Array(Type.Integer()),
                count: Type.Integer(),
                tasks: Type.Array(Type.Object({ taskId: Type.String(), machine: Type.String() })),
              }),
            ),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const visible = teamsOf(request);
      const { total, tails } = await store.insights.failedTails(id, visible, GROUP_MAX, TAIL_CHARS);
      if (total === 0) {
        const counts = await store.batchCounts(id, visible);
        if (Object.keys(counts).length === 0) throw notFound(hidden(id).code, hidden(id).message);
      }
      return {
        batchId: id,
        failed: total,
        grouped: tails.length,
        sampled: tails.length < total,
        groups: groupFailures(tails, GROUP_TASKS),
      };
    },
  );

  r.post(
    '/batches/:id/rerun-failed',
    {
      config: { permission: 'task:create' },
      schema: {
        summary:
          'Run the failed tasks of a batch again, each on its machine with its own command and settings, as a new batch',
        tags: ['batches'],
        params: Params,
        body: Type.Object(
          {
            rolling: Type.Optional(
              Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[0-9]{1,6}%?$' })]),
            ),
            maxFailures: Type.Optional(
              Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]{1,6}%?$' })]),
            ),
            allowInlineSecret: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            batchId: Type.String(),
            from: Type.String(),
            count: Type.Integer(),
            taskIds: Type.Array(Type.String()),
            skipped: Type.Array(
              Type.Object({ taskId: Type.String(), machine: Type.String(), why: Type.String() }),
            ),
          }),
          403: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      const visible = teamsOf(request);
      request.audit.target = `batch:${id}`;
      const teams = new Set((await store.insights.batchTasks(id, visible)).map((t) => t.team));
      if (teams.size === 0) throw notFound(hidden(id).code, hidden(id).message);
      for (const team of teams) requireTeam(request, team, 'operator', hidden(id));
      request.audit.team = teams.size === 1 ? ([...teams][0] as string) : null;
      const sources = await store.insights.failedInputs(id, visible);
      if (sources.length === 0)
        throw conflict('NO_FAILED_TASKS', `batch ${id} has no failed task to run again`);
      const machines = new Set((await store.listMachines({ teams: visible })).map((m) => m.name));
      const skipped = sources
        .filter((s) => !machines.has(s.machine))
        .map((s) => ({ taskId: s.taskId, machine: s.machine, why: 'the machine no longer exists' }));
      const inputs = sources
        .filter((s) => machines.has(s.machine))
        .map((s) => ({
          machine: s.machine,
          command: s.command,
          priority: s.priority,
          retryCount: s.retryCount,
          retryDelay: s.retryDelaySeconds,
          backoff: s.backoff,
          failureAction: s.failureAction,
          timeout: s.timeoutSeconds,
          env: {
            ...s.env,
            ...Object.fromEntries(
              Object.entries(s.secretEnv).map(([name, key]) => [name, `${VAULT_PREFIX}${key}`]),
            ),
          },
          ...(request.body.allowInlineSecret === true ? { allowInlineSecret: true } : {}),
        }));
      if (inputs.length === 0) {
        throw new AppError(
          'NO_FAILED_TASKS',
          `none of the machines of batch ${id}'s failed tasks exists any more`,
          409,
        );
      }
      const result = await service.create(
        inputs,
        actorOf(request),
        true,
        (team) => requireTeam(request, team, 'operator', hidden(id)),
        {
          ...(request.body.rolling === undefined ? {} : { rolling: request.body.rolling }),
          ...(request.body.maxFailures === undefined ? {} : { maxFailures: request.body.maxFailures }),
        },
      );
      if (result.kind !== 'batch') throw new Error('a re-run always creates a batch');
      request.audit.details = {
        from: id,
        batch: result.batchId,
        count: result.taskIds.length,
        skipped: skipped.length,
      };
      reply.status(201);
      return {
        batchId: result.batchId,
        from: id,
        count: result.taskIds.length,
        taskIds: result.taskIds,
        skipped,
      };
    },
  );
}
