import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AttemptEvent, TransitionSummary } from '../../store/store.js';

/** Seconds: from a fraction of a second (a free slot) to a day (a deep queue). */
const WAIT_BUCKETS_SECONDS = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400,
];
/** Seconds: short commands up to multi-hour jobs. */
const RUN_BUCKETS_SECONDS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];

/**
 * Counters and histograms of attempts, observed when this replica applies a
 * bridge report or expires a lease. Each replica counts what it applied;
 * Prometheus adds the replicas up (`sum without (instance)`).
 */
export class TaskMetrics {
  private readonly wait: Histogram<'team' | 'priority'>;
  private readonly run: Histogram<'team' | 'status'>;
  private readonly attempts: Counter<'team' | 'status'>;
  private readonly failures: Counter<'team' | 'reason'>;
  private teams = new Map<number, string>();
  private refreshing: Promise<void> | null = null;

  constructor(
    registry: Registry,
    private readonly teamNames: () => Promise<{ id: number; name: string }[]>,
    private readonly log: Logger,
  ) {
    this.wait = new Histogram({
      name: 'rediacc_task_wait_seconds',
      help: 'Time from a task entering the queue (created, or retried by hand) to its first start',
      labelNames: ['team', 'priority'] as const,
      buckets: WAIT_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.run = new Histogram({
      name: 'rediacc_task_run_seconds',
      help: 'Run time of attempts that started, by how the attempt ended',
      labelNames: ['team', 'status'] as const,
      buckets: RUN_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.attempts = new Counter({
      name: 'rediacc_task_attempts_total',
      help: 'Attempts that ended, by status (completed, failed, cancelled, lost)',
      labelNames: ['team', 'status'] as const,
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'rediacc_task_failures_total',
      help: 'Attempts that failed or were lost, by reason (EXIT_NONZERO, TIMEOUT, LOST, …)',
      labelNames: ['team', 'reason'] as const,
      registers: [registry],
    });
  }

  /** Records the attempts of one unit of work; never throws. */
  observe(changes: TransitionSummary): void {
    const events = changes.attempts;
    if (events === undefined || events.length === 0) return;
    if (events.every((e) => this.teams.has(e.teamId))) {
      this.record(events);
      return;
    }
    this.refreshTeams()
      .then(() => this.record(events))
      .catch((err: unknown) => this.log.warn({ err }, 'recording task metrics failed'));
  }

  private record(events: readonly AttemptEvent[]): void {
    for (const e of events) {
      const team = this.teams.get(e.teamId) ?? `#${e.teamId}`;
      if (e.waitMs !== undefined) this.wait.observe({ team, priority: String(e.priority) }, e.waitMs / 1000);
      if (e.ended !== undefined) {
        const { status, reason, runMs } = e.ended;
        this.attempts.inc({ team, status });
        if ((status === 'failed' || status === 'lost') && reason !== null)
          this.failures.inc({ team, reason });
        if (runMs !== null) this.run.observe({ team, status }, runMs / 1000);
      }
    }
  }

  /** Team names by id; read again when an unknown id shows up (teams are few and rarely added). */
  private refreshTeams(): Promise<void> {
    this.refreshing ??= this.teamNames()
      .then((teams) => {
        this.teams = new Map(teams.map((t) => [t.id, t.name]));
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }
}
