import type { FailureReason, TaskStatus } from '../core/types.js';
import { classifyExit, decideAfterFailure, type RetryPolicyState } from './retry.js';

export interface AttemptEnd {
  exitCode: number | null;
  signal: string | null;
  /** Set by the bridge when it knows better than the exit status (timeout, spawn failure…). */
  reason: FailureReason | null;
}

export interface TaskOutcome {
  status: Extract<TaskStatus, 'completed' | 'failed' | 'retrying' | 'cancelled'>;
  attemptStatus: 'completed' | 'failed' | 'cancelled' | 'lost';
  reason: FailureReason | null;
  retryAt: number | null;
  alert: boolean;
}

/**
 * What a task becomes when one of its attempts ends. A task being cancelled
 * ends `cancelled` whatever its command did; otherwise a failure goes through
 * the retry policy.
 */
export function outcomeOfAttempt(
  currentStatus: TaskStatus,
  policy: RetryPolicyState,
  end: AttemptEnd,
  now: number,
  random?: () => number,
): TaskOutcome {
  if (currentStatus === 'cancelling') {
    return {
      status: 'cancelled',
      attemptStatus: 'cancelled',
      reason: 'CANCELLED',
      retryAt: null,
      alert: false,
    };
  }
  const classified =
    end.reason === null ? classifyExit(end.exitCode, end.signal) : { ok: false as const, reason: end.reason };
  if (classified.ok) {
    return { status: 'completed', attemptStatus: 'completed', reason: null, retryAt: null, alert: false };
  }
  const attemptStatus = classified.reason === 'LOST' ? 'lost' : 'failed';
  const decision = decideAfterFailure(policy, classified.reason, now, random);
  if (decision.next === 'retrying') {
    return {
      status: 'retrying',
      attemptStatus,
      reason: classified.reason,
      retryAt: decision.retryAt,
      alert: false,
    };
  }
  return { status: 'failed', attemptStatus, reason: classified.reason, retryAt: null, alert: decision.alert };
}
