import type { Priority } from '../core/types.js';

/** Default time after which a waiting task moves up one priority level. */
export const DEFAULT_AGING_INTERVAL_MS = 10 * 60 * 1000;
/** Default number of extra slots a machine grants priority-1 tasks. */
export const DEFAULT_CRITICAL_RESERVE = 1;

/**
 * The priority a waiting task is ordered by: one level better per
 * `agingIntervalMs` waited, never into priority 1 (which is reserved for
 * tasks created as critical).
 */
export function effectivePriority(
  priority: Priority,
  createdAt: number,
  now: number,
  agingIntervalMs: number,
): number {
  if (priority === 1) return 1;
  if (agingIntervalMs <= 0) return priority;
  const steps = Math.floor(Math.max(0, now - createdAt) / agingIntervalMs);
  return Math.max(2, priority - steps);
}

export interface Candidate {
  seq: number;
  priority: Priority;
  createdAt: number;
}

/** Ordering key: effective priority, then first in first out. */
export function compareCandidates(a: Candidate, b: Candidate, now: number, agingIntervalMs: number): number {
  const pa = effectivePriority(a.priority, a.createdAt, now, agingIntervalMs);
  const pb = effectivePriority(b.priority, b.createdAt, now, agingIntervalMs);
  return pa - pb || a.seq - b.seq;
}

export interface SlotState {
  /** Tasks running (or assigned) on the machine now. */
  running: number;
  /** The machine's `concurrency`. */
  concurrency: number;
  /** Extra slots priority-1 tasks may use beyond `concurrency`. */
  criticalReserve: number;
  /** Upper bound on how many tasks to pick in this round. */
  max: number;
}

/**
 * Picks what a machine starts next from its waiting tasks, given as one lane
 * per priority level, each lane in queue order (seq ascending). Within a lane
 * an earlier task has waited at least as long as a later one, so its
 * effective priority is never worse: merging the lane heads gives the exact
 * global order without sorting the whole queue.
 */
export function pickForMachine<T extends Candidate>(
  lanes: readonly (readonly T[])[],
  slots: SlotState,
  now: number,
  agingIntervalMs: number,
): T[] {
  const heads = lanes.map(() => 0);
  const picked: T[] = [];
  let running = slots.running;
  while (picked.length < slots.max) {
    let best: T | undefined;
    let bestLane = -1;
    lanes.forEach((lane, i) => {
      const head = lane[heads[i] ?? 0];
      if (
        head !== undefined &&
        (best === undefined || compareCandidates(head, best, now, agingIntervalMs) < 0)
      ) {
        best = head;
        bestLane = i;
      }
    });
    if (best === undefined) break;
    const limit = best.priority === 1 ? slots.concurrency + slots.criticalReserve : slots.concurrency;
    // The best head is the only one that could start; if it may not, none may.
    if (running >= limit) break;
    picked.push(best);
    running += 1;
    heads[bestLane] = (heads[bestLane] ?? 0) + 1;
  }
  return picked;
}

/** How many lane entries to read per priority so `pickForMachine` has enough. */
export function laneDepth(priority: Priority, slots: SlotState): number {
  const limit = priority === 1 ? slots.concurrency + slots.criticalReserve : slots.concurrency;
  return Math.max(0, Math.min(slots.max, limit - slots.running));
}
