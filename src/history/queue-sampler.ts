import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import { MINUTE_MS, QUEUE_HISTORY_KEEP_MS, sampledMinute } from './queue-samples.js';

/** After a minute ends, the sample waits this long, so starts reported a moment late still count. */
export const SAMPLE_DELAY_MS = 5_000;

/**
 * The periodic duty that writes the queue's history: a few seconds after
 * each minute ends it stores that minute's samples (the first replica does;
 * the others find them there) and deletes samples older than the retention.
 */
export class QueueSampler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly o: {
      store: Store;
      logger: Logger;
      clock: () => number;
      /** Samples older than this are deleted. Default 7 days. */
      keepMs?: number;
    },
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Samples the last minute that ended before `now` and prunes; true when this replica wrote it. */
  async tick(now = this.o.clock()): Promise<boolean> {
    const wrote = await this.o.store.history.sampleQueue(sampledMinute(now), now);
    await this.o.store.history.pruneQueueSamples(now - (this.o.keepMs ?? QUEUE_HISTORY_KEEP_MS));
    return wrote;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.o.clock();
    const next = Math.floor((now - SAMPLE_DELAY_MS) / MINUTE_MS) * MINUTE_MS + MINUTE_MS + SAMPLE_DELAY_MS;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((err: unknown) =>
          this.o.logger.warn({ err }, 'queue sample failed; the next minute tries again'),
        )
        .finally(() => this.schedule());
    }, next - now);
    this.timer.unref();
  }
}
