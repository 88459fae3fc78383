import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { DEFAULT_NEXT_RUNS, MAX_NEXT_RUNS, presentSchedule } from '../../schedules/present-schedule.js';
import { ScheduleService } from '../../schedules/schedule-service.js';
import type { TeamRole } from '../../store/store.js';
import { actorOf, requireTeam, teamsOf } from '../auth.js';
import { ErrorBody, NameParams, queryInt } from '../schemas/common.js';
import {
  CreateScheduleBody,
  GetScheduleQuery,
  ListSchedulesQuery,
  ScheduleOut,
  UpdateScheduleBody,
} from '../schemas/schedule.js';
import { TaskExpander } from '../task-expand.js';
import { type App, type RouteDeps, typed } from './deps.js';

/** Recurring schedules of a team: read for viewers, create/pause/resume/delete for operators. */
export function scheduleRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock } = deps;
  const schedules = new ScheduleService(store, new TaskExpander(store, deps.settings), clock);
  /** The schedule, if the caller's team role allows `role` on it; otherwise as if it did not exist. */
  const load = async (request: FastifyRequest, name: string, role: TeamRole) => {
    const s = await store.schedules.get(name);
    const hidden = { code: 'SCHEDULE_NOT_FOUND', message: `schedule '${name}' does not exist` };
    if (s === null) throw new AppError(hidden.code, hidden.message, 404);
    request.audit.target = `schedule:${name}`;
    request.audit.team = s.team;
    requireTeam(request, s.team, role, hidden);
    return s;
  };

  r.post(
    '/schedules',
    {
      config: { permission: 'schedule:write' },
      schema: {
        summary: 'Create a schedule: a task (or fan-out) created at every time a cron expression names',
        tags: ['schedules'],
        body: CreateScheduleBody,
        response: { 201: ScheduleOut, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      request.audit.target = `schedule:${request.body.name}`;
      const created = await schedules.create(request.body, actorOf(request), (team, machine, field) => {
        request.audit.team = team;
        requireTeam(request, team, 'operator', {
          code: 'MACHINE_NOT_FOUND',
          message: `machine '${machine}' does not exist (${field})`,
        });
      });
      request.audit.details = {
        cron: created.cron,
        timezone: created.timezone,
        ...(request.body.allowInlineSecret === true ? { allowInlineSecret: true } : {}),
      };
      reply.status(201);
      return presentSchedule(created);
    },
  );

  r.get(
    '/schedules',
    {
      config: { permission: 'schedule:read' },
      schema: {
        summary: 'List the schedules of your teams, by name',
        tags: ['schedules'],
        querystring: ListSchedulesQuery,
        response: { 200: Type.Array(ScheduleOut) },
      },
    },
    async (request) => {
      const list = await store.schedules.list({
        ...(request.query.team === undefined ? {} : { team: request.query.team }),
        teams: teamsOf(request),
      });
      return list.map((s) => presentSchedule(s, 1));
    },
  );

  r.get(
    '/schedules/:name',
    {
      config: { permission: 'schedule:read' },
      schema: {
        summary: `One schedule with its next run times (next=N, default ${DEFAULT_NEXT_RUNS}, at most ${MAX_NEXT_RUNS})`,
        tags: ['schedules'],
        params: NameParams,
        querystring: GetScheduleQuery,
        response: { 200: ScheduleOut, 404: ErrorBody },
      },
    },
    async (request) => {
      const s = await load(request, request.params.name, 'viewer');
      const next = queryInt(request.query.next, DEFAULT_NEXT_RUNS);
      if (next < 1 || next > MAX_NEXT_RUNS) {
        throw new AppError('VALIDATION_FAILED', `next must be 1 to ${MAX_NEXT_RUNS}`, 400, { field: 'next' });
      }
      return presentSchedule(s, next);
    },
  );

  r.patch(
    '/schedules/:name',
    {
      config: { permission: 'schedule:write' },
      schema: {
        summary: 'Pause or resume a schedule; resuming skips the times that passed while paused',
        tags: ['schedules'],
        params: NameParams,
        body: UpdateScheduleBody,
        response: { 200: ScheduleOut, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const s = await load(request, request.params.name, 'operator');
      request.audit.details = { paused: request.body.paused };
      return presentSchedule(await schedules.setPaused(s, request.body.paused));
    },
  );

  r.delete(
    '/schedules/:name',
    {
      config: { permission: 'schedule:write' },
      schema: {
        summary: 'Delete a schedule; tasks it created stay',
        tags: ['schedules'],
        params: NameParams,
        response: { 204: Type.Null(), 404: ErrorBody },
      },
    },
    async (request, reply) => {
      await load(request, request.params.name, 'operator');
      await store.schedules.delete(request.params.name);
      request.log.info({ schedule: request.params.name }, 'schedule deleted');
      return reply.status(204).send(null);
    },
  );
}
