import { describe, expect, it } from 'vitest';
import type { TaskStatus } from '../src/core/types.js';
import type { RetryPolicyState } from '../src/scheduler/retry.js';
import { type AttemptEnd, outcomeOfAttempt } from '../src/scheduler/transitions.js';

const NOW = 1_700_000_000_000;

function policy(partial: Partial<RetryPolicyState> = {}): RetryPolicyState {
  return {
    attempt: 1,
    attemptLimit: 3,
    retryDelaySeconds: 2,
    backoff: 'fixed',
    failureAction: 'alert',
    ...partial,
  };
}

const exit = (exitCode: number | null, signal: string | null = null): AttemptEnd => ({
  exitCode,
  signal,
  reason: null,
});

describe('outcomeOfAttempt', () => {
  it('a task being cancelled ends cancelled whatever the command did', () => {
    for (const end of [
      exit(0),
      exit(1),
      exit(null, 'SIGTERM'),
      { exitCode: null, signal: null, reason: 'LOST' as const },
    ]) {
      expect(outcomeOfAttempt('cancelling', policy(), end, NOW)).toEqual({
        status: 'cancelled',
        attemptStatus: 'cancelled',
        reason: 'CANCELLED',
        retryAt: null,
        alert: false,
      });
    }
  });

  it('a cancelled task never alerts or retries, even on its last attempt', () => {
    const out = outcomeOfAttempt('cancelling', policy({ attempt: 3 }), exit(3), NOW);
    expect(out.alert).toBe(false);
    expect(out.retryAt).toBeNull();
  });

  it('exit 0 completes', () => {
    for (const status of ['assigned', 'running'] as TaskStatus[]) {
      expect(outcomeOfAttempt(status, policy(), exit(0), NOW)).toEqual({
        status: 'completed',
        attemptStatus: 'completed',
        reason: null,
        retryAt: null,
        alert: false,
      });
    }
  });

  it('a failure with attempts left retries at now + delay, without alert', () => {
    expect(outcomeOfAttempt('running', policy({ attempt: 1 }), exit(3), NOW)).toEqual({
      status: 'retrying',
      attemptStatus: 'failed',
      reason: 'EXIT_NONZERO',
      retryAt: NOW + 2000,
      alert: false,
    });
    expect(outcomeOfAttempt('running', policy({ attempt: 2 }), exit(null, 'SIGKILL'), NOW)).toEqual({
      status: 'retrying',
      attemptStatus: 'failed',
      reason: 'KILLED_BY_SIGNAL',
      retryAt: NOW + 2000,
      alert: false,
    });
  });

  it('the last failure fails the task and alerts only with failureAction alert', () => {
    expect(outcomeOfAttempt('running', policy({ attempt: 3 }), exit(3), NOW)).toEqual({
      status: 'failed',
      attemptStatus: 'failed',
      reason: 'EXIT_NONZERO',
      retryAt: null,
      alert: true,
    });
    expect(
      outcomeOfAttempt('running', policy({ attempt: 3, failureAction: 'none' }), exit(3), NOW).alert,
    ).toBe(false);
  });

  it('with no retries the first failure is final', () => {
    const out = outcomeOfAttempt('running', policy({ attempt: 1, attemptLimit: 1 }), exit(1), NOW);
    expect(out.status).toBe('failed');
    expect(out.alert).toBe(true);
  });

  it('the bridge reason wins over the exit status', () => {
    const end: AttemptEnd = { exitCode: null, signal: 'SIGTERM', reason: 'TIMEOUT' };
    expect(outcomeOfAttempt('running', policy({ attempt: 1 }), end, NOW)).toMatchObject({
      status: 'retrying',
      reason: 'TIMEOUT',
    });
    // Even an exit code of 0 with a timeout reason is a failure.
    const zero: AttemptEnd = { exitCode: 0, signal: null, reason: 'TIMEOUT' };
    expect(outcomeOfAttempt('running', policy({ attempt: 3 }), zero, NOW)).toMatchObject({
      status: 'failed',
      reason: 'TIMEOUT',
      alert: true,
    });
  });

  it('a lost attempt is marked lost and goes through the retry policy', () => {
    const lost: AttemptEnd = { exitCode: null, signal: null, reason: 'LOST' };
    expect(outcomeOfAttempt('running', policy({ attempt: 1 }), lost, NOW)).toEqual({
      status: 'retrying',
      attemptStatus: 'lost',
      reason: 'LOST',
      retryAt: NOW + 2000,
      alert: false,
    });
    expect(outcomeOfAttempt('assigned', policy({ attempt: 3 }), lost, NOW)).toEqual({
      status: 'failed',
      attemptStatus: 'lost',
      reason: 'LOST',
      retryAt: null,
      alert: true,
    });
  });

  it('passes the random source on to exponential backoff', () => {
    const out = outcomeOfAttempt(
      'running',
      policy({ attempt: 2, backoff: 'exponential', retryDelaySeconds: 1 }),
      exit(1),
      NOW,
      () => 0.5,
    );
    expect(out.retryAt).toBe(NOW + Math.round(2000 + 0.5 * 2000 * 0.2));
  });
});
