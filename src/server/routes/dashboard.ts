import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { HOUR_MS, iso } from '../../core/time.js';
import { waitReasons } from '../../scheduler/wait-reasons.js';
import { reauthenticate, requireTeam, teamsOf } from '../auth.js';
import { ANY_TOPIC } from '../bus.js';
import { allows, visibleTeams } from '../permissions.js';
import { ErrorBody, TaskParams } from '../schemas/common.js';
import { type App, type RouteDeps, typed } from './deps.js';

/** Change hints go out at most this often per stream. */
const THROTTLE_MS = 1_000;
/** Queue counts are re-read this often even without events (another replica's changes, a lost bus). */
const POLL_MS = 5_000;
const KEEPALIVE_MS = 15_000;
/** A stream checks its caller's token or session, and teams, again this often. */
const RECHECK_MS = 10_000;
/** Status changes looked up per hint to tell whether they are the caller's teams' (non-admins). */
const HINT_LOOKUPS = 16;
/** Tasks whose team a stream remembers (and status changes it holds to look up). */
const SEEN_MAX = 1_000;

/** What the dashboard reads beyond the plain resources: failures per period, why a task waits, a change feed. */
export function dashboardRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock, bus, settings } = deps;
  const onlineWithinMs = Math.max(settings.leaseMs, settings.claimWaitMaxMs + 10_000);

  r.get(
    '/queue/failures',
    {
      config: { permission: 'queue:read' },
      schema: {
        summary: 'Tasks that ended failed in the last hours (default 24), per team',
        tags: ['queue'],
        querystring: Type.Object(
          { hours: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$' })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            since: Type.String(),
            hours: Type.Integer(),
            failed: Type.Integer(),
            teams: Type.Array(Type.Object({ team: Type.String(), failed: Type.Integer() })),
          }),
          400: ErrorBody,
        },
      },
    },
    async (request) => {
      const hours = Number(request.query.hours ?? 24);
      if (hours < 1 || hours > 168)
        throw new AppError('VALIDATION_FAILED', 'hours must be 1 to 168', 400, { field: 'hours' });
      const since = clock() - hours * HOUR_MS;
      const visible = teamsOf(request);
      const teams = (await store.web.failedSince(since)).filter(
        (t) => visible === null || visible.has(t.team),
      );
      return {
        since: iso(since) as string,
        hours,
        failed: teams.reduce((a, t) => a + t.failed, 0),
        teams,
      };
    },
  );

  r.get(
    '/tasks/:id/wait',
    {
      config: { permission: 'task:read' },
      schema: {
        summary:
          'Why a task has not started: its place in the queue, busy slots, an offline machine, a retry delay',
        tags: ['tasks'],
        params: TaskParams,
        response: {
          200: Type.Object({
            taskId: Type.String(),
            status: Type.String(),
            waiting: Type.Boolean(),
            ahead: Type.Union([Type.Integer(), Type.Null()]),
            reasons: Type.Array(Type.Object({ code: Type.String(), text: Type.String() })),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const id = request.params.id;
      const task = await store.getTask(id);
      const hidden = { code: 'TASK_NOT_FOUND', message: `task ${id} does not exist` };
      if (task === null) throw new AppError(hidden.code, hidden.message, 404);
      requireTeam(request, task.team, 'viewer', hidden);
      const now = clock();
      const place = task.status === 'pending' ? await store.web.queuePlace(id) : null;
      const machine = task.machine === null ? null : await store.getMachine(task.machine);
      const region = place?.region ?? machine?.region ?? 'default';
      const bridgesOnline = (await store.listBridges()).filter(
        (b) => b.region === region && b.lastSeenAt !== null && now - b.lastSeenAt <= onlineWithinMs,
      ).length;
      const reasons = waitReasons({
        status: task.status,
        priority: task.priority,
        retryAt: task.retryAt,
        attempts: task.attempts,
        now,
        machine:
          machine === null || place?.machine === null
            ? null
            : {
                name: machine.name,
                status: machine.status,
                statusSince: machine.statusSince,
                running: machine.running,
                concurrency: machine.concurrency,
              },
        region,
        ahead: place?.ahead ?? null,
        batch: place?.batch ?? null,
        bridgesOnline,
        criticalReserve: settings.criticalReserve,
      });
      return {
        taskId: id,
        status: task.status,
        waiting: reasons.length > 0,
        ahead: place?.ahead ?? null,
        reasons,
      };
    },
  );

  r.get(
    '/events',
    {
      config: { permission: 'queue:read' },
      schema: {
        summary:
          'Server-sent events for live views: queue (your queue counts, when they change) and tasks (a hint that tasks changed)',
        tags: ['queue'],
      },
    },
    async (request, reply) => {
      let visible = teamsOf(request);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const send = (event: string, data: unknown) =>
        raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      let closed = false;
      let lastStats = '';
      let changed = false;
      // A change the caller may see happened (admins: any change). Other teams' changes stay untold.
      let hinted = false;
      // Status changes of tasks whose team is not known yet, and what is known (caller's team or not).
      const unchecked = new Set<string>();
      const seen = new Map<string, boolean>();
      let lastFlush = 0;
      let timer: NodeJS.Timeout | null = null;
      let flushing = false;
      const anyVisible = async (ids: readonly string[]): Promise<boolean> => {
        for (const id of ids.slice(0, HINT_LOOKUPS)) {
          const task = await store.getTask(id);
          const mine = task !== null && (visible === null || visible.has(task.team));
          if (seen.size >= SEEN_MAX) seen.clear();
          seen.set(id, mine);
          if (mine) return true;
        }
        return false;
      };
      const flush = async () => {
        timer = null;
        if (closed || flushing) return;
        flushing = true;
        lastFlush = Date.now();
        let hint = hinted;
        hinted = false;
        changed = false;
        const ids = [...unchecked].reverse();
        unchecked.clear();
        try {
          const stats = await store.queueStats(clock(), visible);
          const text = JSON.stringify(stats);
          const moved = text !== lastStats;
          if (!hint && !moved && ids.length > 0) hint = await anyVisible(ids);
          if (closed) return;
          if (moved) send('queue', { at: iso(clock()), stats });
          if (hint || (moved && lastStats !== '')) send('tasks', { at: iso(clock()) });
          lastStats = text;
        } catch (err) {
          // The store may be away for a moment (a database restart): the next poll tries again.
          request.log.warn({ err }, 'event stream could not read the queue');
        } finally {
          flushing = false;
          if (changed) schedule();
        }
      };
      const schedule = () => {
        if (timer !== null || closed) return;
        timer = setTimeout(flush, Math.max(0, lastFlush + THROTTLE_MS - Date.now()));
      };
      const off = bus.subscribe(ANY_TOPIC, (e) => {
        if (e.type === 'output') return;
        if (visible === null) hinted = true;
        else if (e.type === 'status') {
          const mine = seen.get(e.taskId);
          if (mine === true) hinted = true;
          else if (mine === undefined && unchecked.size < SEEN_MAX) unchecked.add(e.taskId);
        }
        // Any event may move the caller's queue counts (a wake follows a new task): read them soon.
        changed = true;
        schedule();
      });
      let end: () => void = () => {};
      const gone = new Promise<void>((resolve) => {
        end = resolve;
        raw.on('close', resolve);
      });
      // The stream outlives the check at the door: a revoked token, an ended session or a
      // changed membership takes effect here too (the browser reconnects and is asked again).
      const recheck = setInterval(() => {
        void (async () => {
          try {
            const p = await reauthenticate(request, store, clock());
            if (closed) return;
            if (p === null || !allows(p, 'queue:read')) {
              raw.end();
              end();
              return;
            }
            const now = visibleTeams(p);
            if (
              JSON.stringify(now === null ? null : [...now].sort()) !==
              JSON.stringify(visible === null ? null : [...visible].sort())
            ) {
              visible = now;
              seen.clear();
              changed = true;
              schedule();
            }
          } catch (err) {
            request.log.warn({ err }, 'event stream could not check its caller again');
          }
        })();
      }, RECHECK_MS);
      const poll = setInterval(schedule, POLL_MS);
      const keepalive = setInterval(() => raw.write(': keep-alive\n\n'), KEEPALIVE_MS);
      raw.write('retry: 2000\n\n');
      await flush();
      await gone;
      closed = true;
      off();
      clearInterval(poll);
      clearInterval(keepalive);
      clearInterval(recheck);
      if (timer !== null) clearTimeout(timer);
    },
  );
}
