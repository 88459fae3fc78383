import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { installAuditHook } from './audit-hook.js';
import { installAuth } from './auth.js';
import type { Bus } from './bus.js';
import { installErrorHandling } from './errors.js';
import type { FleetService } from './fleet-service.js';
import { metricsRoute, metricsTokenRoutes } from './metrics/metrics-routes.js';
import type { ServerMetrics } from './metrics/server-metrics.js';
import { auditRoutes } from './routes/audit.js';
import { batchRoutes } from './routes/batches.js';
import { bridgeFleetRoutes } from './routes/bridge-fleet.js';
import { bridgeRoutes } from './routes/bridges.js';
import { type ChannelTester, channelRoutes } from './routes/channels.js';
import { dashboardRoutes } from './routes/dashboard.js';
import type { RouteDeps } from './routes/deps.js';
import { fleetRoutes } from './routes/fleet.js';
import { historyRoutes } from './routes/history.js';
import { identityRoutes } from './routes/identity.js';
import { insightRoutes } from './routes/insights.js';
import { logRoutes } from './routes/logs.js';
import { scheduleRoutes } from './routes/schedules.js';
import { systemRoutes } from './routes/system.js';
import { taskRoutes } from './routes/tasks.js';
import { vaultRoutes } from './routes/vault.js';
import { webSessionRoutes } from './routes/web-session.js';
import type { ServerSettings } from './settings.js';
import type { TaskService } from './task-service.js';
import { registerDashboard } from './web/static.js';

export const API_PREFIX = '/api/v1';
const BODY_LIMIT_BYTES = 64 * 1024 * 1024;

export interface AppOptions {
  store: Store;
  bus: Bus;
  service: TaskService;
  fleet: FleetService;
  settings: ServerSettings;
  logger: Logger;
  clock: () => number;
  version: string;
  /** Sends `channel test` notices; absent: that route answers 503. */
  notifier?: ChannelTester;
  /** Serves GET /metrics; absent: no metrics route. */
  metrics?: ServerMetrics;
  /** GET /metrics without a token (--metrics-public). */
  metricsPublic?: boolean;
  /**
   * Addresses or CIDR ranges of the load balancers in front (--trust-proxy): from them,
   * X-Forwarded-For names the client (login limits, audit source). Default: none trusted.
   */
  trustProxy?: readonly string[];
}

/** The HTTP API: every route under /api/v1, each with its permission and schemas. */
export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: o.logger as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false },
    },
    forceCloseConnections: true,
    ...(o.trustProxy === undefined || o.trustProxy.length === 0 ? {} : { trustProxy: [...o.trustProxy] }),
  });
  installErrorHandling(app);
  installAuth(app, o.store, o.clock);
  const flushAudit = installAuditHook(app, o.store, o.clock, o.logger);
  app.addHook('onClose', async () => flushAudit());
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'rediacc',
        version: o.version,
        description: 'Distributed task management across many machines',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'GET' || request.url.startsWith(`${API_PREFIX}/bridge/`)) return;
    request.log.info(
      {
        method: request.method,
        url: request.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });
  const deps: RouteDeps = {
    store: o.store,
    bus: o.bus,
    service: o.service,
    fleet: o.fleet,
    settings: o.settings,
    clock: o.clock,
    version: o.version,
  };
  await app.register(
    async (api) => {
      systemRoutes(api, deps);
      taskRoutes(api, deps);
      scheduleRoutes(api, deps);
      logRoutes(api, deps);
      fleetRoutes(api, deps);
      bridgeRoutes(api, deps);
      identityRoutes(api, deps);
      vaultRoutes(api, deps);
      auditRoutes(api, deps);
      bridgeFleetRoutes(api, deps);
      channelRoutes(api, deps, o.notifier ?? null);
      webSessionRoutes(api, deps);
      dashboardRoutes(api, deps);
      batchRoutes(api, deps);
      insightRoutes(api, deps);
      historyRoutes(api, deps);
      metricsTokenRoutes(api, deps);
    },
    { prefix: API_PREFIX },
  );
  // Prometheus scrapes /metrics at the root.
  if (o.metrics !== undefined) metricsRoute(app, o.metrics, o.metricsPublic === true);
  // The web dashboard at / (its files, and index.html for the paths it routes itself).
  await registerDashboard(app, API_PREFIX);
  return app;
}
