import { Type } from 'typebox';
import { DAY_MS, iso } from '../../core/time.js';
import type { Principal } from '../permissions.js';
import type { App, RouteDeps } from '../routes/deps.js';
import { typed } from '../routes/deps.js';
import { hashToken, newToken } from '../tokens.js';
import type { ServerMetrics } from './server-metrics.js';

/**
 * GET /metrics at the root, where Prometheus looks by default. It needs an
 * admin's token or a metrics token (`metrics:read`) unless the server runs
 * with --metrics-public.
 */
export function metricsRoute(app: App, metrics: ServerMetrics, metricsPublic: boolean): void {
  typed(app).get(
    '/metrics',
    {
      config: { permission: metricsPublic ? 'public' : 'metrics:read' },
      schema: {
        summary:
          'Prometheus metrics in the text exposition format (needs a metrics token unless --metrics-public)',
        tags: ['monitoring'],
      },
    },
    async (_request, reply) => {
      const body = await metrics.render();
      return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(body);
    },
  );
}

/** Minting metrics tokens: under the API prefix, for admins. */
export function metricsTokenRoutes(app: App, deps: RouteDeps): void {
  const { store, clock } = deps;
  typed(app).post(
    '/metrics/tokens',
    {
      config: { permission: 'metrics:admin' },
      schema: {
        summary:
          'Create a metrics token for yourself: it may only scrape GET /metrics; shown once. List and revoke it like your other tokens',
        tags: ['monitoring'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            expiresInDays: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 3650, description: 'days until the token expires' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            token: Type.String(),
            name: Type.String(),
            scope: Type.Literal('metrics'),
            expiresAt: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (request, reply) => {
      const me = request.principal as Extract<Principal, { kind: 'user' }>;
      request.audit.target = request.body.name;
      const token = newToken('rdc');
      const now = clock();
      const days = request.body.expiresInDays;
      const expiresAt = days === undefined ? null : now + days * DAY_MS;
      await store.createToken({
        hash: hashToken(token),
        kind: 'user',
        name: request.body.name,
        userId: me.userId,
        bridgeName: null,
        now,
        expiresAt,
        scope: 'metrics',
      });
      reply.status(201);
      return { token, name: request.body.name, scope: 'metrics' as const, expiresAt: iso(expiresAt) };
    },
  );
}
