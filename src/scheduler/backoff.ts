import type { Backoff } from '../core/types.js';

/** Upper bound for an exponentially grown retry delay (never below the task's own retry delay). */
export const MAX_BACKOFF_MS = 60 * 60 * 1000;
/** Exponential backoff adds up to this share of the delay as random jitter. */
export const JITTER_SHARE = 0.2;

/**
 * Delay before the attempt after `failedAttempt` (1-based). Fixed delays are
 * exact; exponential ones double per attempt, capped, plus jitter that only
 * ever adds, so retries are never closer than `retryDelaySeconds`.
 */
export function retryDelayMs(
  failedAttempt: number,
  retryDelaySeconds: number,
  backoff: Backoff,
  random: () => number = Math.random,
): number {
  const baseMs = retryDelaySeconds * 1000;
  if (backoff === 'fixed' || baseMs === 0) return baseMs;
  const capMs = Math.max(MAX_BACKOFF_MS, baseMs);
  const grownMs = Math.min(capMs, baseMs * 2 ** Math.max(0, failedAttempt - 1));
  return Math.round(grownMs + random() * grownMs * JITTER_SHARE);
}
