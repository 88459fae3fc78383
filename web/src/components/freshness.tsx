import { duration } from '../format';
import { type Live, useNow } from '../live';

/**
 * How fresh a live view is: "live" while the event stream is open, "polling"
 * when it dropped (or for data no event announces), and the age of the last
 * successful load. A failed refresh or an old answer is shown as stale.
 */
export function Freshness({ live, pollMs = 5_000 }: { live: Live<unknown>; pollMs?: number }) {
  const now = useNow();
  const age = live.updatedAt === null ? null : now - live.updatedAt;
  const stale = live.error !== null || (age !== null && age > Math.max(30_000, pollMs * 3));
  const label = {
    live: 'live',
    interval: `refreshed every ${pollMs / 1000} s`,
    polling: `event stream down: polling every ${pollMs / 1000} s`,
    connecting: 'connecting',
  }[live.mode];
  return (
    <output className={`freshness ${stale ? 'stale' : live.mode}`} aria-live="polite">
      <span className="dot" aria-hidden="true" />
      <span>{label}</span>
      <span className="age">
        {age === null ? ' · loading…' : ` · updated ${duration(age)} ago`}
        {live.error === null ? '' : ` · last refresh failed: ${live.error.message}`}
      </span>
    </output>
  );
}
