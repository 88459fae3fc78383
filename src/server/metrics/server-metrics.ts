import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Store } from '../../store/store.js';
import type { ServerSettings } from '../settings.js';
import { metricsRegistry } from './registry.js';
import { StoreGauges } from './store-gauges.js';
import { TaskMetrics } from './task-metrics.js';

let defaultsCollected = false;

/** Node process metrics (CPU, memory, event loop lag, GC) in the process-wide registry, once per process. */
function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: metricsRegistry });
}

/**
 * Everything one server exposes at GET /metrics: the process-wide registry
 * (process metrics, notification deliveries) and this server's own (attempt
 * counters and histograms, gauges read from the store at scrape time).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly tasks: TaskMetrics;
  private readonly gauges: StoreGauges;
  private scraping: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly settings: ServerSettings,
    private readonly clock: () => number,
    log: Logger,
  ) {
    collectProcessMetrics();
    this.tasks = new TaskMetrics(this.registry, () => store.listTeams(), log);
    this.gauges = new StoreGauges(this.registry);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition; scrapes run one after another, so gauges are never filled twice at once. */
  render(): Promise<string> {
    const next = this.scraping.then(
      () => this.renderNow(),
      () => this.renderNow(),
    );
    this.scraping = next.catch(() => {});
    return next;
  }

  private async renderNow(): Promise<string> {
    const now = this.clock();
    const [queue, machines, bridges] = await Promise.all([
      this.store.queueStats(now, null, { busiest: 1 }),
      this.store.listMachines({}),
      this.store.listBridges(),
    ]);
    this.gauges.fill({
      now,
      queue,
      machines,
      bridges,
      bridgeOnlineWithinMs: Math.max(this.settings.leaseMs, this.settings.claimWaitMaxMs + 10_000),
    });
    const [shared, own] = await Promise.all([metricsRegistry.metrics(), this.registry.metrics()]);
    return `${shared.trimEnd()}\n${own}`;
  }
}
