import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { HOUR_MS, iso } from '../../core/time.js';
import {
  downsample,
  type HistoryPoint,
  MINUTE_MS,
  mergeTeams,
  pointOf,
  QUEUE_HISTORY_KEEP_MS,
} from '../../history/queue-samples.js';
import { judgeRun, summariseRuns, USUAL_RUNS } from '../../history/usual-run.js';
import type { TaskRunHistory } from '../../store/history-store.js';
import { requireTeam, teamsOf } from '../auth.js';
import { ErrorBody, Name, TaskParams } from '../schemas/common.js';
import { type App, type RouteDeps, typed } from './deps.js';

const MAX_HOURS = QUEUE_HISTORY_KEEP_MS / HOUR_MS;
/** Points answered at most when the caller names no step: a day of minutes. */
const MAX_DEFAULT_POINTS = 1_440;
const MAX_IDS = 100;
const UUID = '[0-9a-fA-F-]{36}';

const Count = Type.Integer();
const Ms = Type.Union([Type.Number(), Type.Null()]);
const Point = Type.Object({
  at: Type.String(),
  pending: Type.Record(Type.String(), Count),
  pendingTotal: Count,
  running: Count,
  retrying: Count,
  started: Count,
  waitP50Ms: Ms,
  waitP95Ms: Ms,
  waitMaxMs: Ms,
  oldestWaitMs: Ms,
  waitExact: Type.Boolean(),
});
const Usual = Type.Object({
  taskId: Type.String(),
  status: Type.String(),
  machine: Type.Union([Type.String(), Type.Null()]),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  runs: Count,
  usualMs: Ms,
  meanMs: Ms,
  elapsedMs: Ms,
  ratio: Ms,
  slower: Type.Boolean(),
  verdict: Type.String(),
  text: Type.String(),
});

/** The queue's history per minute, and whether running tasks are slower than usual. */
export function historyRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock } = deps;

  r.get(
    '/queue/history',
    {
      config: { permission: 'queue:read' },
      schema: {
        summary:
          'Queue length and wait time per minute over the last hours (default 24, up to 168), from samples the server takes',
        tags: ['queue'],
        querystring: Type.Object(
          {
            hours: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: '1-168, default 24' })),
            step: Type.Optional(
              Type.String({
                pattern: '^[0-9]{1,2}$',
                description: 'minutes per point, 1-60 (default: 1 up to a day)',
              }),
            ),
            team: Type.Optional(Name),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            hours: Count,
            stepMinutes: Count,
            since: Type.String(),
            until: Type.String(),
            teams: Type.Union([Type.Array(Type.String()), Type.Null()]),
            sampledMinutes: Count,
            points: Type.Array(Point),
          }),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const hours = Number(q.hours ?? 24);
      if (hours < 1 || hours > MAX_HOURS)
        throw new AppError('VALIDATION_FAILED', `hours must be 1 to ${MAX_HOURS}`, 400, { field: 'hours' });
      const step = q.step === undefined ? Math.ceil((hours * 60) / MAX_DEFAULT_POINTS) : Number(q.step);
      if (step < 1 || step > 60)
        throw new AppError('VALIDATION_FAILED', 'step must be 1 to 60 minutes', 400, { field: 'step' });
      let teams = teamsOf(request);
      if (q.team !== undefined) {
        const hidden = new AppError('TEAM_NOT_FOUND', `team '${q.team}' does not exist`, 404);
        if (teams !== null && !teams.has(q.team)) throw hidden;
        if ((await store.getTeam(q.team)) === null) throw hidden;
        teams = new Set([q.team]);
      }
      // Up to the end of the current minute (sampled only once it has ended).
      const until = Math.floor(clock() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
      const since = until - hours * HOUR_MS;
      const { minutes, rows } = await store.history.queueSamples({ since, until, teams });
      // Only those who see every team get the all-teams rows; others the sum of their teams' own.
      const points = teams === null ? rows.map(pointOf) : mergeTeams(minutes, rows);
      return {
        hours,
        stepMinutes: step,
        since: iso(since) as string,
        until: iso(until) as string,
        teams: teams === null ? null : [...teams].sort(),
        sampledMinutes: minutes.length,
        points: downsample(points, step).map(present),
      };
    },
  );

  r.get(
    '/tasks/:id/usual',
    {
      config: { permission: 'task:read' },
      schema: {
        summary:
          'Whether a running task is slower than usual: its run so far against earlier completed runs of its command on its machine',
        tags: ['tasks'],
        params: TaskParams,
        response: { 200: Usual, 404: ErrorBody },
      },
    },
    async (request) => {
      const id = request.params.id;
      const [found] = await store.history.usualRuns([id], USUAL_RUNS);
      const hidden = { code: 'TASK_NOT_FOUND', message: `task ${id} does not exist` };
      if (found === undefined) throw new AppError(hidden.code, hidden.message, 404);
      requireTeam(request, found.team, 'viewer', hidden);
      return judge(found, clock());
    },
  );

  r.get(
    '/tasks/usual',
    {
      config: { permission: 'task:read' },
      schema: {
        summary: 'The same for up to 100 tasks at once (the task list); tasks of other teams are left out',
        tags: ['tasks'],
        querystring: Type.Object(
          {
            ids: Type.String({
              pattern: `^${UUID}(,${UUID}){0,${MAX_IDS - 1}}$`,
              description: `task ids, comma-separated, at most ${MAX_IDS}`,
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ tasks: Type.Array(Usual) }), 400: ErrorBody },
      },
    },
    async (request) => {
      const visible = teamsOf(request);
      const found = await store.history.usualRuns(request.query.ids.split(','), USUAL_RUNS);
      const now = clock();
      return {
        tasks: found.filter((t) => visible === null || visible.has(t.team)).map((t) => judge(t, now)),
      };
    },
  );
}

function judge(t: TaskRunHistory, now: number) {
  const running = t.status === 'running' && t.attemptStartedAt !== null;
  const j = judgeRun(summariseRuns(t.runsMs), running ? now - (t.attemptStartedAt ?? now) : null);
  return {
    taskId: t.taskId,
    status: t.status,
    machine: t.machine,
    startedAt: iso(t.attemptStartedAt),
    runs: j.runs,
    usualMs: j.usualMs,
    meanMs: j.meanMs,
    elapsedMs: j.elapsedMs === null ? null : Math.round(j.elapsedMs),
    ratio: j.ratio === null ? null : Math.round(j.ratio * 100) / 100,
    slower: j.slower,
    verdict: j.verdict,
    text: j.text,
  };
}

function present(p: HistoryPoint) {
  return {
    at: iso(p.minute) as string,
    pending: { 1: p.pending[0], 2: p.pending[1], 3: p.pending[2], 4: p.pending[3], 5: p.pending[4] },
    pendingTotal: p.pendingTotal,
    running: p.running,
    retrying: p.retrying,
    started: p.started,
    waitP50Ms: whole(p.waitP50Ms),
    waitP95Ms: whole(p.waitP95Ms),
    waitMaxMs: whole(p.waitMaxMs),
    oldestWaitMs: whole(p.oldestWaitMs),
    waitExact: p.waitExact,
  };
}

const whole = (ms: number | null): number | null => (ms === null ? null : Math.round(ms));
