import { Type } from 'typebox';
import { FINAL_STATUSES, type TaskStatus } from '../../core/types.js';
import type { OutputChunk } from '../../store/store.js';
import { reauthenticate, requireTeam } from '../auth.js';
import type { BusEvent } from '../bus.js';
import { allows, teamAccess } from '../permissions.js';
import { presentChunk, presentTask } from '../present.js';
import { ErrorBody, queryBool, queryInt, TaskParams } from '../schemas/common.js';
import { LogsQuery, OutputChunkOut } from '../schemas/task.js';
import { type App, type RouteDeps, typed } from './deps.js';

const PAGE = 500;
const KEEPALIVE_MS = 15_000;
/** A followed stream checks its caller's token or session, and team, again this often. */
const RECHECK_MS = 10_000;

export function logRoutes(app: App, deps: RouteDeps): void {
  const { store, service, bus, clock } = deps;
  typed(app).get(
    '/tasks/:id/logs',
    {
      config: { permission: 'task:read' },
      schema: {
        summary:
          'Output of a task; follow=1 streams it live as server-sent events (events: output, status, end)',
        tags: ['tasks'],
        params: TaskParams,
        querystring: LogsQuery,
        response: {
          200: Type.Object({
            chunks: Type.Array(OutputChunkOut),
            next: Type.Integer({ description: 'pass as after= to read on' }),
            status: Type.String(),
            done: Type.Boolean(),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const taskId = request.params.id;
      const task = await service.get(taskId);
      requireTeam(request, task.team, 'viewer', {
        code: 'TASK_NOT_FOUND',
        message: `task ${taskId} does not exist`,
      });
      let after = queryInt(request.query.after, 0);
      if (!queryBool(request.query.follow)) {
        const limit = Math.min(5000, Math.max(1, queryInt(request.query.limit, 1000)));
        const chunks = await store.listOutput(taskId, after, limit);
        const next = chunks.at(-1)?.id ?? after;
        const final = FINAL_STATUSES.includes(task.status);
        return {
          chunks: chunks.map(presentChunk),
          next,
          status: task.status,
          done: final && chunks.length < limit,
        };
      }

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const send = (event: string, data: unknown, id?: number) => {
        raw.write(
          `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
        );
      };
      const sendChunk = (c: OutputChunk) => {
        if (c.id <= after) return;
        after = c.id;
        send('output', presentChunk(c), c.id);
      };
      // Subscribe before reading what is stored, so nothing falls between.
      const queue: BusEvent[] = [];
      let wake: (() => void) | null = null;
      const off = bus.subscribe(`task:${taskId}`, (e) => {
        queue.push(e);
        wake?.();
      });
      let closed = false;
      raw.on('close', () => {
        closed = true;
        wake?.();
      });
      // The stream outlives the check at the door: a revoked token, an ended session, a disabled
      // user or a lost membership ends it here too (without `end`; asking again is refused).
      let refused = false;
      const recheck = setInterval(() => {
        void (async () => {
          try {
            const p = await reauthenticate(request, store, clock());
            if (p !== null && allows(p, 'task:read') && teamAccess(p, task.team, 'viewer') === 'ok') return;
            refused = true;
            wake?.();
          } catch (err) {
            request.log.warn({ err, task: taskId }, 'log follow could not check its caller again');
          }
        })();
      }, RECHECK_MS);
      const keepalive = setInterval(() => raw.write(': keep-alive\n\n'), KEEPALIVE_MS);
      const drainStored = async () => {
        for (;;) {
          const chunks = await store.listOutput(taskId, after, PAGE);
          for (const c of chunks) sendChunk(c);
          if (chunks.length < PAGE) return;
        }
      };
      try {
        await drainStored();
        let status: TaskStatus = task.status;
        send('status', { status });
        while (!closed && !refused && !FINAL_STATUSES.includes(status)) {
          if (queue.length === 0) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              setTimeout(resolve, 5_000).unref();
            });
            wake = null;
          }
          if (closed || refused) break;
          // Events only wake the stream; the store is the source of truth, so
          // output that arrived through another replica is not missed.
          for (const e of queue.splice(0)) {
            if (e.type === 'status' && e.status !== status) {
              status = e.status as TaskStatus;
              send('status', { status });
            }
          }
          await drainStored();
          // A missed status event is caught by re-reading the task now and then.
          if (!FINAL_STATUSES.includes(status)) status = (await service.get(taskId)).status;
        }
        if (!closed && !refused) {
          await drainStored();
          send('end', presentTask(await service.get(taskId)));
        }
      } catch (err) {
        request.log.error({ err, task: taskId }, 'log follow failed');
      } finally {
        off();
        clearInterval(keepalive);
        clearInterval(recheck);
        raw.end();
      }
    },
  );
}
