import type { Logger } from 'pino';
import type { OutputStream } from '../core/types.js';
import type { AttemptRef, BridgeApi, ReportBody } from './api.js';

/** Most text in one output chunk. */
const CHUNK_MAX_CHARS = 64 * 1024;
/** Output waits at most this long before it is sent. */
const OUTPUT_FLUSH_MS = 50;
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

interface AttemptState extends AttemptRef {
  nextChunk: number;
  bytesSent: number;
}

/**
 * Batches what a bridge tells the control plane (starts, output, results,
 * heartbeats) into as few round trips as possible, one at a time, and keeps
 * everything until the control plane has acknowledged it.
 */
export class Reporter {
  private pending: ReportBody = { started: [], output: [], results: [], running: [] };
  private readonly attempts = new Map<string, AttemptState>();
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private immediate = false;
  private retryMs = RETRY_MIN_MS;
  private heartbeatDue = false;

  constructor(
    private readonly api: BridgeApi,
    private readonly log: Logger,
    private readonly outputCapBytes: number,
    private readonly running: () => AttemptRef[],
    private readonly onCancel: (refs: AttemptRef[]) => void,
  ) {}

  started(ref: AttemptRef, at: number): void {
    // Output may already have been counted for this attempt; keep its chunk numbers.
    if (!this.attempts.has(key(ref))) this.attempts.set(key(ref), { ...ref, nextChunk: 0, bytesSent: 0 });
    this.pending.started.push({ ...ref, at });
    // Not at once: a short command's start then travels with its result, in one transaction.
    this.schedule(false);
  }

  output(ref: AttemptRef, stream: OutputStream, data: string, at: number): void {
    let state = this.attempts.get(key(ref));
    if (state === undefined) {
      state = { ...ref, nextChunk: 0, bytesSent: 0 };
      this.attempts.set(key(ref), state);
    }
    // Past the cap the control plane discards output anyway; one piece over tells it to mark the cap.
    if (state.bytesSent > this.outputCapBytes) return;
    state.bytesSent += Buffer.byteLength(data);
    const last = this.pending.output.at(-1);
    if (
      last !== undefined &&
      last.taskId === ref.taskId &&
      last.attempt === ref.attempt &&
      last.stream === stream &&
      last.data.length + data.length <= CHUNK_MAX_CHARS
    ) {
      last.data += data;
    } else {
      this.pending.output.push({ ...ref, chunk: state.nextChunk++, stream, at, data });
    }
    this.schedule(false);
  }

  result(result: ReportBody['results'][number]): void {
    this.pending.results.push(result);
    this.attempts.delete(key(result));
    this.schedule(true);
  }

  heartbeat(): void {
    this.heartbeatDue = true;
    this.schedule(true);
  }

  /** Resolves once everything reported so far is acknowledged. */
  async drain(): Promise<void> {
    while (this.inFlight !== null || this.hasPending()) {
      if (this.inFlight === null) this.flush();
      await this.inFlight;
    }
  }

  private hasPending(): boolean {
    const p = this.pending;
    return p.started.length + p.output.length + p.results.length > 0 || this.heartbeatDue;
  }

  private schedule(now: boolean): void {
    if (this.inFlight !== null) {
      this.immediate ||= now;
      return;
    }
    if (now) {
      clearTimeout(this.timer);
      this.timer = undefined;
      // The next turn of the event loop, so results that end together share one report.
      setImmediate(() => this.flush());
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, OUTPUT_FLUSH_MS);
    }
  }

  private flush(): void {
    if (this.inFlight !== null || !this.hasPending()) return;
    const body = this.pending;
    // Leases are renewed with heartbeats only: a report per result need not carry every running attempt.
    body.running = this.heartbeatDue ? this.running() : [];
    this.pending = { started: [], output: [], results: [], running: [] };
    this.heartbeatDue = false;
    this.immediate = false;
    this.inFlight = this.api
      .report(body)
      .then((res) => {
        this.retryMs = RETRY_MIN_MS;
        if (res.cancel.length > 0) this.onCancel(res.cancel);
        this.inFlight = null;
        if (this.hasPending()) this.schedule(this.immediate || this.pending.results.length > 0);
      })
      .catch(async (err: unknown) => {
        this.log.warn({ err: (err as Error).message, retryInMs: this.retryMs }, 'report failed; will retry');
        // Put the unsent report back in front of what came since, in order.
        this.pending = {
          started: [...body.started, ...this.pending.started],
          output: [...body.output, ...this.pending.output],
          results: [...body.results, ...this.pending.results],
          running: [],
        };
        await new Promise((r) => setTimeout(r, this.retryMs));
        this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
        this.inFlight = null;
        this.schedule(true);
      });
  }
}

function key(ref: AttemptRef): string {
  return `${ref.taskId}#${ref.attempt}`;
}
