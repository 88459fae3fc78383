import { Type } from 'typebox';
import { DEFAULT_BUSIEST } from '../../store/queue-stats.js';
import { teamsOf } from '../auth.js';
import { presentAlert } from '../present.js';
import { ErrorBody, queryInt } from '../schemas/common.js';
import { AlertOut } from '../schemas/fleet.js';
import { withDeliveries } from './channels.js';
import { type App, type RouteDeps, typed } from './deps.js';

export function systemRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock } = deps;

  r.get(
    '/health',
    {
      config: { permission: 'public' },
      schema: {
        summary: 'Liveness and store reachability; needs no token',
        tags: ['system'],
        response: {
          200: Type.Object({ status: Type.String(), version: Type.String(), store: Type.String() }),
        },
      },
    },
    async () => {
      await store.getMeta('installation');
      return { status: 'ok', version: deps.version, store: store.dialect };
    },
  );

  r.get('/openapi.json', { config: { permission: 'api:read' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  r.get(
    '/alerts',
    {
      config: { permission: 'alert:read' },
      schema: {
        tags: ['alerts'],
        querystring: Type.Object(
          {
            team: Type.Optional(Type.String()),
            limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(AlertOut) },
      },
    },
    async (request) => {
      const limit = Math.min(1000, Math.max(1, queryInt(request.query.limit, 100)));
      const alerts = await store.listAlerts({
        teams: teamsOf(request),
        ...(request.query.team === undefined ? {} : { team: request.query.team }),
        limit,
      });
      return withDeliveries(store, alerts.map(presentAlert));
    },
  );

  r.get(
    '/queue/stats',
    {
      config: { permission: 'queue:read' },
      schema: {
        summary:
          'Pending per priority, retrying, running, oldest waiting age, busiest machines, counts per team and priority (from counters)',
        tags: ['queue'],
        querystring: Type.Object(
          {
            top: Type.Optional(
              Type.String({
                pattern: '^(100|[1-9][0-9]?)$',
                description: 'busiest machines to list, 1-100 (default 5)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) =>
      store.queueStats(clock(), teamsOf(request), { busiest: queryInt(request.query.top, DEFAULT_BUSIEST) }),
  );

  r.get(
    '/batches/:id',
    {
      config: { permission: 'task:read' },
      schema: {
        tags: ['tasks'],
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-fA-F-]{36}$' }) }),
        response: {
          200: Type.Object({
            batchId: Type.String(),
            total: Type.Integer(),
            done: Type.Integer(),
            counts: Type.Record(Type.String(), Type.Integer()),
          }),
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const counts = await store.batchCounts(request.params.id, teamsOf(request));
      const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
      if (total === 0) {
        return reply
          .status(404)
          .send({ error: { code: 'BATCH_NOT_FOUND', message: `batch ${request.params.id} does not exist` } });
      }
      const done = (counts.completed ?? 0) + (counts.failed ?? 0) + (counts.cancelled ?? 0);
      return { batchId: request.params.id, total, done, counts };
    },
  );
}
