import { retryDelayMs } from '../scheduler/backoff.js';
import type { DeliveryResult } from '../store/notify-store.js';

/**
 * What becomes of a delivery whose attempt failed: tried again after an
 * exponentially growing delay (with jitter, capped at an hour), unless the
 * error cannot pass by waiting or the next try would come after the expiry.
 */
export function afterFailure(
  d: { attempt: number; expiresAt: number },
  error: { message: string; retryable: boolean },
  nowMs: number,
  retryBaseSeconds: number,
  random: () => number = Math.random,
): DeliveryResult {
  if (!error.retryable) return { status: 'failed', error: error.message };
  const nextAt = nowMs + retryDelayMs(d.attempt, retryBaseSeconds, 'exponential', random);
  if (nextAt >= d.expiresAt) {
    return {
      status: 'failed',
      error: `gave up after ${d.attempt} attempt${d.attempt === 1 ? '' : 's'} (expires before the next): ${error.message}`,
    };
  }
  return { status: 'retrying', nextAt, error: error.message };
}
