/**
 * At most `max` holders at once, in one server process: a request that finds
 * every place taken is refused rather than queued (the caller retries).
 */
export class ConcurrencyLimit {
  private held = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`a concurrency limit needs max >= 1 (got ${max})`);
  }

  /** How many hold a place now. */
  get active(): number {
    return this.held;
  }

  /** A place, and the function that gives it back (once; later calls do nothing), or null when all are taken. */
  tryAcquire(): (() => void) | null {
    if (this.held >= this.max) return null;
    this.held += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= 1;
    };
  }
}
