import { describe, expect, it } from 'vitest';
import type { FailureReason } from '../src/core/types.js';
import { JITTER_SHARE, MAX_BACKOFF_MS, retryDelayMs } from '../src/scheduler/backoff.js';
import { classifyExit, decideAfterFailure, type RetryPolicyState } from '../src/scheduler/retry.js';

const NOW = 1_700_000_000_000;
const noJitter = () => 0;
const fullJitter = () => 0.999_999;

describe('retryDelayMs: fixed', () => {
  it('is exactly the retry delay for every attempt, whatever random returns', () => {
    for (const attempt of [1, 2, 5, 30]) {
      expect(retryDelayMs(attempt, 7, 'fixed', fullJitter)).toBe(7000);
      expect(retryDelayMs(attempt, 7, 'fixed', noJitter)).toBe(7000);
    }
    expect(retryDelayMs(1, 0.25, 'fixed')).toBe(250);
    expect(retryDelayMs(3, 0, 'fixed')).toBe(0);
  });

  it('is not capped (a fixed delay may be longer than the exponential cap)', () => {
    expect(retryDelayMs(1, 86_400, 'fixed')).toBe(86_400_000);
  });
});

describe('retryDelayMs: exponential', () => {
  it('doubles per failed attempt, starting at the retry delay', () => {
    expect([1, 2, 3, 4, 5].map((a) => retryDelayMs(a, 2, 'exponential', noJitter))).toEqual([
      2000, 4000, 8000, 16_000, 32_000,
    ]);
  });

  it('treats attempt numbers below 1 as the first attempt', () => {
    expect(retryDelayMs(0, 2, 'exponential', noJitter)).toBe(2000);
  });

  it('is capped at MAX_BACKOFF_MS before jitter', () => {
    expect(MAX_BACKOFF_MS).toBe(3_600_000);
    expect(retryDelayMs(40, 10, 'exponential', noJitter)).toBe(MAX_BACKOFF_MS);
    expect(retryDelayMs(1000, 10, 'exponential', noJitter)).toBe(MAX_BACKOFF_MS);
    const jittered = retryDelayMs(40, 10, 'exponential', fullJitter);
    expect(jittered).toBeLessThanOrEqual(MAX_BACKOFF_MS * (1 + JITTER_SHARE));
    expect(jittered).toBeGreaterThan(MAX_BACKOFF_MS);
  });

  it('adds jitter only upwards, at most JITTER_SHARE of the grown delay', () => {
    const samples = [0, 0.1, 0.5, 0.9, 0.999_999];
    for (const attempt of [1, 2, 3, 6]) {
      const grown = 3000 * 2 ** (attempt - 1);
      for (const r of samples) {
        const d = retryDelayMs(attempt, 3, 'exponential', () => r);
        expect(d).toBeGreaterThanOrEqual(grown);
        expect(d).toBeLessThanOrEqual(Math.round(grown * (1 + JITTER_SHARE)));
        expect(d).toBe(Math.round(grown + r * grown * JITTER_SHARE));
      }
    }
  });

  it('with the real random source stays within [delay, delay * (1 + jitter)]', () => {
    for (let i = 0; i < 200; i += 1) {
      const d = retryDelayMs(2, 1, 'exponential');
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(2000 * (1 + JITTER_SHARE));
    }
  });

  it('is zero for a zero retry delay', () => {
    expect(retryDelayMs(5, 0, 'exponential', fullJitter)).toBe(0);
  });

  it('is never below the retry delay, even when the retry delay exceeds the cap', () => {
    // The API accepts retryDelay up to 86,400 s; the cap (1 h) must not shorten it.
    for (const seconds of [3600, 7200, 86_400]) {
      for (const attempt of [1, 2, 10]) {
        expect(retryDelayMs(attempt, seconds, 'exponential', noJitter)).toBeGreaterThanOrEqual(
          seconds * 1000,
        );
      }
    }
  });
});

function policy(partial: Partial<RetryPolicyState> = {}): RetryPolicyState {
  return {
    attempt: 1,
    attemptLimit: 3,
    retryDelaySeconds: 5,
    backoff: 'fixed',
    failureAction: 'none',
    ...partial,
  };
}

describe('decideAfterFailure', () => {
  it('retries while attempts are left, at now + delay', () => {
    expect(decideAfterFailure(policy({ attempt: 1 }), 'EXIT_NONZERO', NOW)).toEqual({
      next: 'retrying',
      retryAt: NOW + 5000,
    });
    expect(decideAfterFailure(policy({ attempt: 2 }), 'EXIT_NONZERO', NOW)).toEqual({
      next: 'retrying',
      retryAt: NOW + 5000,
    });
  });

  it('uses the backoff of the policy with the attempt that failed', () => {
    const d = decideAfterFailure(
      policy({ attempt: 3, attemptLimit: 10, backoff: 'exponential', retryDelaySeconds: 1 }),
      'TIMEOUT',
      NOW,
      noJitter,
    );
    expect(d).toEqual({ next: 'retrying', retryAt: NOW + 4000 });
  });

  it('fails after the last attempt, alerting only with failureAction alert', () => {
    expect(decideAfterFailure(policy({ attempt: 3 }), 'EXIT_NONZERO', NOW)).toEqual({
      next: 'failed',
      alert: false,
    });
    expect(decideAfterFailure(policy({ attempt: 3, failureAction: 'alert' }), 'EXIT_NONZERO', NOW)).toEqual({
      next: 'failed',
      alert: true,
    });
    expect(
      decideAfterFailure(policy({ attempt: 1, attemptLimit: 1, failureAction: 'alert' }), 'LOST', NOW),
    ).toEqual({ next: 'failed', alert: true });
  });

  it('treats an attempt beyond the limit as the last', () => {
    expect(decideAfterFailure(policy({ attempt: 4, attemptLimit: 3 }), 'EXIT_NONZERO', NOW).next).toBe(
      'failed',
    );
  });

  it('never retries a cancelled task or one whose machine was deleted', () => {
    for (const reason of ['CANCELLED', 'MACHINE_DELETED'] as const) {
      expect(decideAfterFailure(policy({ attempt: 1, failureAction: 'alert' }), reason, NOW)).toEqual({
        next: 'failed',
        alert: true,
      });
    }
  });

  it('retries every other failure reason', () => {
    const retryable: FailureReason[] = [
      'EXIT_NONZERO',
      'KILLED_BY_SIGNAL',
      'TIMEOUT',
      'LOST',
      'SPAWN_FAILED',
      'MACHINE_UNREACHABLE',
    ];
    for (const reason of retryable) {
      expect(decideAfterFailure(policy(), reason, NOW).next).toBe('retrying');
    }
  });
});

describe('classifyExit', () => {
  it('exit code 0 is success', () => {
    expect(classifyExit(0, null)).toEqual({ ok: true });
  });

  it('any other exit code is EXIT_NONZERO', () => {
    for (const code of [1, 2, 3, 126, 127, 255]) {
      expect(classifyExit(code, null)).toEqual({ ok: false, reason: 'EXIT_NONZERO' });
    }
  });

  it('no exit code with a signal is KILLED_BY_SIGNAL', () => {
    expect(classifyExit(null, 'SIGKILL')).toEqual({ ok: false, reason: 'KILLED_BY_SIGNAL' });
    expect(classifyExit(null, 'SIGTERM')).toEqual({ ok: false, reason: 'KILLED_BY_SIGNAL' });
  });

  it('neither exit code nor signal is a failure, never a success', () => {
    expect(classifyExit(null, null).ok).toBe(false);
  });
});
