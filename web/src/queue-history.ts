import type { HistoryPoint } from './history-api';
import type { QueueStats } from './types';

/**
 * The overview chart's points: the server's per-minute samples of the queue
 * (GET /queue/history, kept 7 days whatever the browser did), and a live
 * point from the event stream's queue counts at the end.
 */
export interface ChartPoint {
  t: number;
  waiting: number;
  running: number;
  /** 95th percentile wait of the tasks that started then; null when none started (or live). */
  waitP95Ms: number | null;
  oldestWaitMs: number | null;
}

export const RANGES = [
  { label: '1 h', hours: 1, step: 1 },
  { label: '6 h', hours: 6, step: 1 },
  { label: '24 h', hours: 24, step: 5 },
  { label: '7 d', hours: 168, step: 30 },
] as const;

/** Waiting: pending and waiting out a retry delay. */
export function waitingOf(stats: QueueStats): number {
  return Object.values(stats.pending).reduce((a, b) => a + b, 0) + stats.retrying;
}

/**
 * Server points at the end of their step (counts are taken as a minute
 * ends), then the live counts at `now` when they are newer.
 */
export function chartPoints(
  points: readonly HistoryPoint[],
  stepMinutes: number,
  live: QueueStats | undefined,
  now: number,
): ChartPoint[] {
  const out: ChartPoint[] = points.map((p) => ({
    t: Date.parse(p.at) + stepMinutes * 60_000,
    waiting: p.pendingTotal + p.retrying,
    running: p.running,
    waitP95Ms: p.waitP95Ms,
    oldestWaitMs: p.oldestWaitMs,
  }));
  const last = out.at(-1);
  if (live !== undefined && (last === undefined || now > last.t)) {
    out.push({
      t: now,
      waiting: waitingOf(live),
      running: live.running + live.assigned + live.cancelling,
      waitP95Ms: null,
      oldestWaitMs: live.oldestPendingAgeMs,
    });
  }
  return out;
}
