import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../src/server/insights/concurrency-limit.js';
import { sliceWindow } from '../src/store/insight-rows.js';

// The limit the output search runs under (2 at once per server), and how
// SQLite cuts a search's window into slices read one after the other.

describe('concurrency limit', () => {
  it('gives out at most max places, and a place again once one is given back', () => {
    const limit = new ConcurrencyLimit(2);
    const a = limit.tryAcquire();
    const b = limit.tryAcquire();
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(limit.active).toBe(2);
    expect(limit.tryAcquire()).toBeNull();
    a?.();
    // Giving back twice frees one place only.
    a?.();
    expect(limit.active).toBe(1);
    const c = limit.tryAcquire();
    expect(c).not.toBeNull();
    expect(limit.tryAcquire()).toBeNull();
    b?.();
    c?.();
    expect(limit.active).toBe(0);
  });

  it('refuses a limit below one', () => {
    expect(() => new ConcurrencyLimit(0)).toThrow();
    expect(() => new ConcurrencyLimit(1.5)).toThrow();
  });
});

describe('search window slices', () => {
  const c = (seq: number, bytes: number) => ({ seq, bytes });

  it('cuts the window in order into slices of at most the given bytes, one task at least', () => {
    const candidates = [c(9, 3), c(8, 3), c(7, 10), c(6, 1), c(5, 1), c(4, 100)];
    expect(sliceWindow(candidates, 5, 6)).toEqual([[9, 8], [7], [6, 5]]);
    // Only the window (the first `count`) is sliced.
    expect(sliceWindow(candidates, 2, 100)).toEqual([[9, 8]]);
    expect(sliceWindow(candidates, 0, 100)).toEqual([]);
    expect(sliceWindow([c(1, 50)], 1, 10)).toEqual([[1]]);
  });
});
