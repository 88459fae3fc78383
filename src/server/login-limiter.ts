import { MINUTE_MS } from '../core/time.js';

/**
 * Failed logins per account and per source address in a sliding window. Pure
 * apart from its memory; the clock is passed in.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly perAccount = 5,
    private readonly perAddress = 20,
    private readonly windowMs = 15 * MINUTE_MS,
  ) {}

  private recent(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  /** Milliseconds until a login for this account from this address may be tried again (0: now). */
  retryAfterMs(account: string, address: string, now: number): number {
    const checks: [string, number][] = [
      [`a:${account.toLowerCase()}`, this.perAccount],
      [`s:${address}`, this.perAddress],
    ];
    let wait = 0;
    for (const [key, limit] of checks) {
      const list = this.recent(key, now);
      if (list.length >= limit)
        wait = Math.max(wait, (list[list.length - limit] as number) + this.windowMs - now);
    }
    return wait;
  }

  fail(account: string, address: string, now: number): void {
    for (const key of [`a:${account.toLowerCase()}`, `s:${address}`]) {
      this.failures.set(key, [...this.recent(key, now), now]);
    }
  }

  succeed(account: string): void {
    this.failures.delete(`a:${account.toLowerCase()}`);
  }
}

const shared = new WeakMap<object, LoginLimiter>();

/** One limiter per server (keyed by its store), shared by every way to log in. */
export function loginLimiterFor(owner: object): LoginLimiter {
  let limiter = shared.get(owner);
  if (limiter === undefined) {
    limiter = new LoginLimiter();
    shared.set(owner, limiter);
  }
  return limiter;
}
