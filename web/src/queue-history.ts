import type { QueueStats } from './types';

/**
 * Queue length and wait over time, sampled in the browser from the queue
 * counts it receives (the server keeps no history of them). Kept for an hour
 * in sessionStorage, so a reload or a visit to another page does not lose it.
 */
export interface QueueSample {
  t: number;
  waiting: number;
  running: number;
  oldestWaitMs: number;
}

const KEY = 'rediacc.queue-samples';
const KEEP_MS = 60 * 60 * 1000;
const MIN_GAP_MS = 2_000;

let samples: QueueSample[] = load();

function load(): QueueSample[] {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw === null ? [] : (JSON.parse(raw) as QueueSample[]);
  } catch {
    return [];
  }
}

export function waitingOf(stats: QueueStats): number {
  return Object.values(stats.pending).reduce((a, b) => a + b, 0) + stats.retrying;
}

export function addSample(stats: QueueStats, t = Date.now()): QueueSample[] {
  const last = samples.at(-1);
  const sample = {
    t,
    waiting: waitingOf(stats),
    running: stats.running + stats.assigned,
    oldestWaitMs: stats.oldestPendingAgeMs ?? 0,
  };
  if (last !== undefined && t - last.t < MIN_GAP_MS) samples[samples.length - 1] = sample;
  else samples = [...samples.filter((s) => t - s.t <= KEEP_MS), sample];
  try {
    sessionStorage.setItem(KEY, JSON.stringify(samples));
  } catch {
    // Storage full or off: the chart still works for this page view.
  }
  return samples;
}

export function queueSamples(): QueueSample[] {
  return samples;
}
