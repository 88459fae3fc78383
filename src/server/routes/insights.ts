import { type Static, Type } from 'typebox';
import { AppError, notFound } from '../../core/errors.js';
import { HOUR_MS, iso } from '../../core/time.js';
import { requireTeam, teamsOf } from '../auth.js';
import { ConcurrencyLimit } from '../insights/concurrency-limit.js';
import { matchesText, matchingLines } from '../insights/output-match.js';
import { ErrorBody, Name, NameParams, queryInt, Uuid } from '../schemas/common.js';
import { TaskStatusSchema } from '../schemas/task.js';
import { type App, type RouteDeps, typed } from './deps.js';

/**
 * Searches running at once in this server process; one more is refused with
 * 429 (each may read tens of MiB; on SQLite the reads share the one thread).
 */
export const SEARCH_CONCURRENCY = 2;
const SEARCH_RETRY_AFTER_SECONDS = 2;
const SEARCH_DEFAULT_TASKS = 200;
const SEARCH_DEFAULT_MATCHES = 200;
const LINES_PER_CHUNK = 5;
/** Ended tasks a machine summary looks at. */
const RECENT_TASKS = 100;
/** A machine summary counts its newest tasks up to this many (one backward read of its index). */
export const SUMMARY_WINDOW_TASKS = 10_000;

const Line = Type.Object({
  chunkId: Type.Integer(),
  attempt: Type.Integer(),
  stream: Type.String(),
  at: Type.String(),
  text: Type.String(),
  column: Type.Integer(),
});

/** Search across the output of many tasks, and a machine's own task history in numbers. */
export function insightRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock } = deps;
  const searches = new ConcurrencyLimit(SEARCH_CONCURRENCY);

  r.get(
    '/output/search',
    {
      config: { permission: 'task:read' },
      schema: {
        summary:
          'Find text in the stored output of your most recent tasks (newest first, ASCII letters in any case); ' +
          'bounded by tasks (default 200, at most 1,000) and 64 MiB of output (16 MiB on SQLite); ' +
          'nextBefore continues with older tasks; at most 2 searches at once per server (429 SEARCH_BUSY)',
        tags: ['tasks'],
        querystring: Type.Object(
          {
            q: Type.String({ minLength: 2, maxLength: 200, pattern: '^[^\\u0000]*$' }),
            team: Type.Optional(Name),
            machine: Type.Optional(Name),
            batch: Type.Optional(Uuid),
            status: Type.Optional(TaskStatusSchema),
            hours: Type.Optional(
              Type.String({ pattern: '^[0-9]{1,4}$', description: 'only tasks created in the last hours' }),
            ),
            before: Type.Optional(
              Type.String({ pattern: '^[0-9]{1,15}$', description: 'only tasks older than this seq' }),
            ),
            tasks: Type.Optional(
              Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'tasks to read, 1-1000' }),
            ),
            limit: Type.Optional(
              Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'matching chunks, 1-1000' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            q: Type.String(),
            tasks: Type.Array(
              Type.Object({
                seq: Type.Integer(),
                taskId: Type.String(),
                team: Type.String(),
                machine: Type.String(),
                status: Type.String(),
                createdAt: Type.Union([Type.String(), Type.Null()]),
                lines: Type.Array(Line),
              }),
            ),
            scannedTasks: Type.Integer(),
            scannedBytes: Type.Integer(),
            nextBefore: Type.Union([Type.Integer(), Type.Null()]),
            truncated: Type.Boolean(),
            limits: Type.Object({ tasks: Type.Integer(), bytes: Type.Integer(), matches: Type.Integer() }),
          }),
          400: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const release = searches.tryAcquire();
      if (release === null) {
        reply.header('retry-after', String(SEARCH_RETRY_AFTER_SECONDS));
        throw new AppError(
          'SEARCH_BUSY',
          `${SEARCH_CONCURRENCY} output searches are already running on this server; try again in a moment`,
          429,
        );
      }
      try {
        const q = request.query;
        const maxBytes = store.insights.searchMaxBytes;
        const maxTasks = queryInt(q.tasks, SEARCH_DEFAULT_TASKS);
        const limit = queryInt(q.limit, SEARCH_DEFAULT_MATCHES);
        const page = await store.insights.searchOutput({
          text: q.q,
          teams: teamsOf(request),
          ...(q.team === undefined ? {} : { team: q.team }),
          ...(q.machine === undefined ? {} : { machine: q.machine }),
          ...(q.batch === undefined ? {} : { batchId: q.batch.toLowerCase() }),
          ...(q.status === undefined ? {} : { status: q.status }),
          ...(q.hours === undefined ? {} : { since: clock() - Number(q.hours) * HOUR_MS }),
          ...(q.before === undefined ? {} : { beforeSeq: Number(q.before) }),
          maxTasks,
          maxBytes,
          limit,
        });
        type Found = {
          seq: number;
          taskId: string;
          team: string;
          machine: string;
          status: string;
          createdAt: string | null;
          lines: Static<typeof Line>[];
        };
        const tasks = new Map<number, Found>();
        for (const h of page.hits) {
          // The store's filter may let a rare false match through (PostgreSQL's escaped bytes): confirmed here.
          if (!matchesText(h.data, q.q)) continue;
          let t = tasks.get(h.seq);
          if (t === undefined) {
            t = {
              seq: h.seq,
              taskId: h.taskId,
              team: h.team,
              machine: h.machine,
              status: h.status,
              createdAt: iso(h.createdAt),
              lines: [],
            };
            tasks.set(h.seq, t);
          }
          for (const l of matchingLines(h.data, q.q, LINES_PER_CHUNK)) {
            t.lines.push({
              chunkId: h.chunkId,
              attempt: h.attempt,
              stream: h.stream,
              at: iso(h.at) as string,
              text: l.text,
              column: l.at,
            });
          }
        }
        return {
          q: q.q,
          tasks: [...tasks.values()],
          scannedTasks: page.scannedTasks,
          scannedBytes: page.scannedBytes,
          nextBefore: page.nextBeforeSeq,
          truncated: page.truncated,
          limits: { tasks: maxTasks, bytes: maxBytes, matches: limit },
        };
      } finally {
        release();
      }
    },
  );

  r.get(
    '/machines/:name/task-summary',
    {
      config: { permission: 'task:read' },
      schema: {
        summary:
          'How tasks went on a machine: counts per status of its last 10,000 tasks (window), and success rate ' +
          'and run times of its last 100 ended tasks',
        tags: ['machines'],
        params: NameParams,
        response: {
          200: Type.Object({
            machine: Type.String(),
            team: Type.String(),
            counts: Type.Record(Type.String(), Type.Integer(), {
              description: 'per status, over the tasks in window only',
            }),
            window: Type.Object({
              maxTasks: Type.Integer({ description: 'the newest tasks of the machine counted, at most' }),
              counted: Type.Integer(),
              since: Type.Union([Type.String(), Type.Null()], {
                description: 'when the oldest counted task was created',
              }),
              complete: Type.Boolean({ description: 'every task the machine ever had is counted' }),
            }),
            recent: Type.Object({
              ended: Type.Integer(),
              completed: Type.Integer(),
              failed: Type.Integer(),
              cancelled: Type.Integer(),
              medianRunMs: Type.Union([Type.Number(), Type.Null()]),
              lastFailureAt: Type.Union([Type.String(), Type.Null()]),
              statuses: Type.Array(Type.String(), {
                description: 'statuses of the last ended tasks, newest first',
              }),
            }),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const name = request.params.name;
      const m = await store.getMachine(name);
      const gone = { code: 'MACHINE_NOT_FOUND', message: `machine '${name}' does not exist` };
      if (m === null) throw notFound(gone.code, gone.message);
      requireTeam(request, m.team, 'viewer', gone);
      const s = await store.insights.machineTaskSummary(name, m.team, RECENT_TASKS, SUMMARY_WINDOW_TASKS);
      const runs = s.recent
        .filter((t) => t.status === 'completed' && t.startedAt !== null && t.finishedAt !== null)
        .map((t) => (t.finishedAt as number) - (t.startedAt as number))
        .sort((a, b) => a - b);
      const lastFailure = s.recent.find((t) => t.status === 'failed');
      const count = (status: string) => s.recent.filter((t) => t.status === status).length;
      return {
        machine: name,
        team: m.team,
        counts: s.counts as Record<string, number>,
        window: {
          maxTasks: SUMMARY_WINDOW_TASKS,
          counted: s.counted,
          since: iso(s.countedSince),
          complete: s.counted < SUMMARY_WINDOW_TASKS,
        },
        recent: {
          ended: s.recent.length,
          completed: count('completed'),
          failed: count('failed'),
          cancelled: count('cancelled'),
          medianRunMs: runs.length === 0 ? null : (runs[Math.floor((runs.length - 1) / 2)] as number),
          lastFailureAt: iso(lastFailure?.finishedAt ?? null),
          statuses: s.recent.map((t) => t.status),
        },
      };
    },
  );
}
