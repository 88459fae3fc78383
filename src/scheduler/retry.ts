import type { Backoff, FailureAction, FailureReason } from '../core/types.js';
import { retryDelayMs } from './backoff.js';

export interface RetryPolicyState {
  /** The attempt that just ended, 1-based. */
  attempt: number;
  /** Attempts allowed in this round (1 + retryCount). */
  attemptLimit: number;
  retryDelaySeconds: number;
  backoff: Backoff;
  failureAction: FailureAction;
}

export type AfterFailure = { next: 'retrying'; retryAt: number } | { next: 'failed'; alert: boolean };

/** What happens to a task whose attempt failed for `reason`. */
export function decideAfterFailure(
  state: RetryPolicyState,
  reason: FailureReason,
  now: number,
  random: () => number = Math.random,
): AfterFailure {
  // A changed host key stays changed until an operator looks at it: retrying would only repeat the refusal.
  const retryable =
    reason !== 'CANCELLED' &&
    reason !== 'MACHINE_DELETED' &&
    reason !== 'HOST_KEY_MISMATCH' &&
    reason !== 'ROLLOUT_HALTED';
  if (retryable && state.attempt < state.attemptLimit) {
    return {
      next: 'retrying',
      retryAt: now + retryDelayMs(state.attempt, state.retryDelaySeconds, state.backoff, random),
    };
  }
  return { next: 'failed', alert: state.failureAction === 'alert' };
}

/** Maps how a process ended to an outcome. */
export function classifyExit(
  exitCode: number | null,
  signal: string | null,
): { ok: true } | { ok: false; reason: FailureReason } {
  if (exitCode === 0) return { ok: true };
  if (exitCode === null && signal !== null) return { ok: false, reason: 'KILLED_BY_SIGNAL' };
  return { ok: false, reason: 'EXIT_NONZERO' };
}
