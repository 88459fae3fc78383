import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { Bridge } from '../bridge/bridge.js';
import { LocalBridgeApi } from '../bridge/local-api.js';
import { standardTransports } from '../bridge/setup.js';
import { DAY_MS } from '../core/time.js';
import { QueueSampler } from '../history/queue-sampler.js';
import { Notifier } from '../notify/notifier.js';
import type { NotifySettings } from '../notify/settings.js';
import { ScheduleDuty } from '../schedules/schedule-duty.js';
import type { Store } from '../store/store.js';
import { buildApp } from './app.js';
import { type BootstrapResult, bootstrap, MASTER_PASSWORD_FILE } from './bootstrap.js';
import { FleetService } from './fleet-service.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { archiveOldOutput, IDEMPOTENCY_KEEP_MS } from './retention.js';
import { DEFAULT_PORT, DEFAULT_SETTINGS, type ServerSettings } from './settings.js';
import { openStorage } from './storage.js';

export { DEFAULT_PORT };

import { VERSION } from '../core/version.js';
import { TaskService } from './task-service.js';

export { VERSION };
export const EMBEDDED_BRIDGE = 'embedded';

export interface ServerOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  /** Run the embedded bridge for region `default`. Default true. */
  bridge?: boolean;
  settings?: Partial<ServerSettings>;
  adminToken?: string;
  /** PostgreSQL URL for a replicated control plane; default: SQLite in the data dir (or DATABASE_URL). */
  databaseUrl?: string;
  /** How often the embedded bridge reads machines' health. Default 15 s; 0 turns it off. */
  healthIntervalMs?: number;
  /** The vault's master password, for the quick-start setup and the embedded bridge. */
  masterPassword?: string;
  logger?: Logger;
  clock?: () => number;
  /** Notification delivery settings (src/notify/settings.ts); the environment may set them too. */
  notify?: Partial<NotifySettings>;
  /** Serve GET /metrics without a token. Default false: it needs an admin's or a metrics token. */
  metricsPublic?: boolean;
  /**
   * On close, how long the embedded bridge lets running commands finish before it stops
   * them (their attempts end `lost`). Default 0; `rediacc server` uses --drain-seconds (10).
   */
  drainMs?: number;
  /** Load balancers whose X-Forwarded-For is believed (addresses or CIDR ranges). Default none. */
  trustProxy?: readonly string[];
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  store: Store;
  service: TaskService;
  fleet: FleetService;
  bridge: Bridge | null;
  /** The duty that turns due schedules into tasks (tests call `tick()`). */
  schedules: ScheduleDuty;
  /** Hands alerts to channels and delivers them (tests call `pump()`, `checkConditions()`). */
  notifier: Notifier;
  boot: BootstrapResult;
  close(): Promise<void>;
}

/** Starts the control plane: store, HTTP API, periodic duties and (by default) the embedded bridge. */
export async function startServer(o: ServerOptions = {}): Promise<RunningServer> {
  const dataDir = resolve(o.dataDir ?? '.rediacc');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logger = o.logger ?? pino({ base: { pid: process.pid }, redact: ['req.headers.authorization'] });
  const clock = o.clock ?? Date.now;
  const settings: ServerSettings = { ...DEFAULT_SETTINGS, ...o.settings };
  const databaseUrl = o.databaseUrl ?? process.env.DATABASE_URL;
  const storage = await openStorage(dataDir, databaseUrl, logger);
  const { store, bus } = storage;
  const boot = await bootstrap(store, dataDir, clock(), o.adminToken, o.masterPassword);
  const masterFile = join(dataDir, MASTER_PASSWORD_FILE);
  const masterPassword =
    o.masterPassword ?? (existsSync(masterFile) ? readFileSync(masterFile, 'utf8').trim() : undefined);
  const service = new TaskService(store, bus, settings, logger, clock);
  const fleet = new FleetService(store, bus, logger, clock);
  const metrics = new ServerMetrics(store, settings, clock, logger);
  service.observers.push((changes) => metrics.tasks.observe(changes));
  const notifier = new Notifier({
    store,
    logger,
    clock,
    masterPassword,
    ...(o.notify ? { settings: o.notify } : {}),
  });
  const app = await buildApp({
    store,
    bus,
    service,
    fleet,
    settings,
    logger,
    clock,
    version: VERSION,
    notifier,
    metrics,
    metricsPublic: o.metricsPublic === true,
    ...(o.trustProxy === undefined ? {} : { trustProxy: o.trustProxy }),
  });

  const sweep = async () => {
    try {
      await service.expireLeases();
      await service.promoteDueRetries();
      await fleet.markOffline(settings.offlineAfterMs);
    } catch (err) {
      logger.error({ err }, 'periodic duty failed');
    }
  };
  await sweep();
  const sweeper = setInterval(sweep, settings.sweepIntervalMs);
  sweeper.unref();
  const retain = () =>
    archiveOldOutput(store, dataDir, settings.logRetentionDays, clock(), logger)
      .then(() =>
        store.pruneHistory(clock() - IDEMPOTENCY_KEEP_MS, clock() - settings.logRetentionDays * DAY_MS),
      )
      .then(() => fleet.prune())
      .then(() => fleet.alertOldKeys())
      .catch((err: unknown) => logger.error({ err }, 'archiving old output failed'));
  void retain();
  const retention = setInterval(retain, settings.retentionIntervalMs);
  retention.unref();
  const schedules = new ScheduleDuty({ store, service, logger, clock });
  schedules.start();
  // The queue's history per minute (GET /queue/history); safe on several replicas.
  const queueSampler = new QueueSampler({ store, logger, clock });
  queueSampler.start();

  let bridge: Bridge | null = null;
  if (o.bridge !== false) {
    // Replicas on one database each run their own embedded bridge, under their own name.
    const name =
      databaseUrl === undefined || databaseUrl === ''
        ? EMBEDDED_BRIDGE
        : `${EMBEDDED_BRIDGE}-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`.slice(0, 63);
    await store.upsertBridge(name, 'default', clock());
    const api = new LocalBridgeApi(service, fleet, name, 'default');
    const log = logger.child({ bridge: name, host: hostname() });
    const { transports, pool } = standardTransports(api, log, { stateDir: join(dataDir, 'embedded-bridge') });
    bridge = new Bridge({
      api,
      transports,
      pool,
      logger: log,
      outputCapBytes: settings.outputCapBytes,
      ...(masterPassword === undefined ? {} : { masterPassword }),
      ...(o.healthIntervalMs === undefined ? {} : { healthIntervalMs: o.healthIntervalMs }),
    });
  }

  const address = await app.listen({ port: o.port ?? DEFAULT_PORT, host: o.host ?? '127.0.0.1' });
  bridge?.start();
  notifier.start();
  logger.info(
    { url: address, dataDir, store: store.dialect, bridge: bridge !== null },
    'rediacc server started',
  );

  let closing: Promise<void> | null = null;
  return {
    url: address,
    app,
    store,
    service,
    fleet,
    bridge,
    schedules,
    notifier,
    boot,
    close: () => {
      closing ??= (async () => {
        clearInterval(sweeper);
        clearInterval(retention);
        await schedules.stop();
        await queueSampler.stop();
        await notifier.stop();
        service.stop();
        await bridge?.stop({ drainMs: o.drainMs ?? 0 });
        await app.close();
        await storage.close();
      })();
      return closing;
    },
  };
}
