import { EventEmitter } from 'node:events';

/**
 * Wake-ups and live events between the parts of the control plane. Topics:
 * `region:<name>` (work may be claimable), `bridge:<name>` (a cancel for that
 * bridge), `task:<id>` (status changes and output of a task). The in-process
 * bus serves one server; a multi-replica store brings one that crosses
 * processes.
 */
export interface Bus {
  publish(topic: string, event: BusEvent): void;
  subscribe(topic: string, listener: (event: BusEvent) => void): () => void;
}

export type BusEvent =
  | { type: 'wake' }
  | { type: 'status'; taskId: string; status: string }
  | {
      type: 'output';
      taskId: string;
      chunk: { id: number; attempt: number; stream: string; at: number; data: string };
    };

/** Subscribers of this topic get the events of every topic (the dashboard's change feed). */
export const ANY_TOPIC = '*';

export class InProcessBus implements Bus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(topic: string, event: BusEvent): void {
    this.emitter.emit(topic, event);
    if (topic !== ANY_TOPIC) this.emitter.emit(ANY_TOPIC, event);
  }

  subscribe(topic: string, listener: (event: BusEvent) => void): () => void {
    this.emitter.on(topic, listener);
    return () => this.emitter.off(topic, listener);
  }
}

/**
 * Hears the topics from its creation on, so an event that arrives while the
 * caller is busy (a claim query that found nothing, say) is not missed:
 * `wait` then returns at once. `reset` forgets what was heard so far.
 */
export class Listener {
  private heard = false;
  private wake: (() => void) | null = null;
  private readonly offs: (() => void)[];

  constructor(bus: Bus, topics: readonly string[]) {
    this.offs = topics.map((t) =>
      bus.subscribe(t, () => {
        this.heard = true;
        this.wake?.();
      }),
    );
  }

  reset(): void {
    this.heard = false;
  }

  /** Resolves when something was heard since the last reset, after `timeoutMs`, or on abort. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.heard || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        this.wake = null;
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.wake = done;
      timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  close(): void {
    for (const off of this.offs) off();
    this.wake?.();
  }
}
