import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { parsePriority } from '../../core/priority.js';
import type { Task } from '../../core/types.js';
import type { TeamRole } from '../../store/store.js';
import { actorOf, requireTeam, teamsOf } from '../auth.js';
import { presentTask } from '../present.js';
import { ErrorBody, queryInt, TaskParams } from '../schemas/common.js';
import { BatchCreated, CreateTasksBody, ListTasksQuery, TaskOut } from '../schemas/task.js';
import { MAX_LIST_LIMIT } from '../settings.js';
import type { TaskInput } from '../task-service.js';
import { type App, type RouteDeps, typed } from './deps.js';

/** The Idempotency-Key header: printable, at most 200 characters. */
function idempotencyKey(header: string | string[] | undefined): { idempotencyKey?: string } {
  if (header === undefined) return {};
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || !/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new AppError('VALIDATION_FAILED', 'Idempotency-Key must be 1 to 200 printable characters', 400, {
      field: 'Idempotency-Key',
    });
  }
  return { idempotencyKey: key };
}

export function taskRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { service, store } = deps;
  const full = async (task: Task) => presentTask(task, await store.getAttempts(task.taskId));
  /** The task, if the caller's team role allows `role` on it; otherwise as if it did not exist. */
  const load = async (request: FastifyRequest, id: string, role: TeamRole) => {
    const task = await store.getTask(id);
    const hidden = { code: 'TASK_NOT_FOUND', message: `task ${id} does not exist` };
    if (task === null) throw new AppError(hidden.code, hidden.message, 404);
    request.audit.target = id;
    request.audit.team = task.team;
    requireTeam(request, task.team, role, hidden);
    return task;
  };

  r.post(
    '/tasks',
    {
      config: { permission: 'task:create' },
      schema: {
        summary:
          'Create one task, a fan-out (machines) or a batch ({"tasks":[…]}, up to 10,000) in one transaction',
        tags: ['tasks'],
        body: CreateTasksBody,
        response: { 201: Type.Union([TaskOut, BatchCreated]), 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const { tasks, rolling, maxFailures, ...single } = request.body;
      let inputs: TaskInput[];
      if (tasks !== undefined) {
        const stray = Object.keys(single);
        if (stray.length > 0) {
          throw new AppError(
            'VALIDATION_FAILED',
            `give either "tasks" or one task's fields, not both (${stray[0]})`,
            400,
            {
              field: stray[0] as string,
            },
          );
        }
        inputs = tasks;
      } else {
        inputs = [single];
      }
      const teams = new Set<string>();
      const result = await service.create(
        inputs,
        actorOf(request),
        tasks !== undefined,
        (team, machine, field) => {
          teams.add(team);
          requireTeam(request, team, 'operator', {
            code: 'MACHINE_NOT_FOUND',
            message: `machine '${machine}' does not exist (${field})`,
          });
        },
        {
          ...(rolling === undefined ? {} : { rolling }),
          ...(maxFailures === undefined ? {} : { maxFailures }),
          ...idempotencyKey(request.headers['idempotency-key']),
        },
      );
      request.audit.team = teams.size === 1 ? ([...teams][0] as string) : null;
      request.audit.details = {
        count: result.kind === 'task' ? 1 : result.taskIds.length,
        ...(result.replayed === true ? { replayed: true } : {}),
        ...(inputs.some((i) => i.allowInlineSecret === true) ? { allowInlineSecret: true } : {}),
      };
      request.audit.target = result.kind === 'task' ? result.task.taskId : `batch:${result.batchId}`;
      if (result.replayed === true) reply.header('idempotent-replayed', 'true');
      reply.status(201);
      if (result.kind === 'task') return presentTask(result.task, []);
      return { batchId: result.batchId, count: result.taskIds.length, taskIds: result.taskIds };
    },
  );

  r.get(
    '/tasks',
    {
      config: { permission: 'task:read' },
      schema: {
        summary: 'List tasks, newest first; page with before=<seq of the last one>',
        tags: ['tasks'],
        querystring: ListTasksQuery,
        response: { 200: Type.Array(TaskOut) },
      },
    },
    async (request) => {
      const q = request.query;
      const tasks = await store.listTasks({
        ...(q.status === undefined ? {} : { status: q.status }),
        ...(q.machine === undefined ? {} : { machine: q.machine }),
        ...(q.priority === undefined ? {} : { priority: parsePriority(q.priority) }),
        ...(q.team === undefined ? {} : { team: q.team }),
        ...(q.batch === undefined ? {} : { batchId: q.batch }),
        ...(q.before === undefined ? {} : { beforeSeq: queryInt(q.before, 0) }),
        ...(q.q === undefined ? {} : { text: q.q }),
        teams: teamsOf(request),
        limit: Math.min(MAX_LIST_LIMIT, Math.max(1, queryInt(q.limit, 50))),
      });
      return tasks.map((t) => presentTask(t));
    },
  );

  r.get(
    '/tasks/:id',
    {
      config: { permission: 'task:read' },
      schema: { tags: ['tasks'], params: TaskParams, response: { 200: TaskOut, 404: ErrorBody } },
    },
    async (request) => full(await load(request, request.params.id, 'viewer')),
  );

  r.post(
    '/tasks/:id/cancel',
    {
      config: { permission: 'task:cancel' },
      schema: {
        summary: 'Cancel a waiting task at once, or kill a running one (whole process tree)',
        tags: ['tasks'],
        params: TaskParams,
        response: { 200: TaskOut, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      await load(request, request.params.id, 'operator');
      return presentTask(await service.cancel(request.params.id));
    },
  );

  r.post(
    '/tasks/:id/retry',
    {
      config: { permission: 'task:retry' },
      schema: {
        summary: 'Queue an ended task again for a new round of attempts',
        tags: ['tasks'],
        params: TaskParams,
        response: { 200: TaskOut, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      await load(request, request.params.id, 'operator');
      return presentTask(await service.retry(request.params.id));
    },
  );
}
