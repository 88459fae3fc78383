import { useState } from 'react';
import { duration } from '../format';
import { historyApi } from '../history-api';
import { useLive, useNow } from '../live';
import { chartPoints, RANGES } from '../queue-history';
import type { QueueStats } from '../types';
import { LineChart } from './charts';
import { Freshness } from './freshness';
import { ErrorNote } from './status';

const HISTORY_POLL_MS = 60_000;

/**
 * Queue length and wait over time from the server's per-minute samples, with
 * the live counts (from the event stream) as the last point.
 */
export function QueueHistoryChart({ live }: { live: QueueStats | undefined }) {
  const [range, setRange] = useState<(typeof RANGES)[number]>(RANGES[1]);
  const history = useLive(() => historyApi.queueHistory(range.hours, range.step), [range.hours], {
    pollMs: HISTORY_POLL_MS,
  });
  const now = useNow();
  const h = history.data;
  const points = h === undefined ? [] : chartPoints(h.points, h.stepMinutes, live, now);
  const bounded = h?.points.some((p) => !p.waitExact) ?? false;
  const per =
    h === undefined || h.stepMinutes === 1
      ? ''
      : `, drawn per ${h.stepMinutes} minutes (the highest of each)`;
  return (
    <>
      <div className="page-head">
        <fieldset className="tabs">
          <legend className="sr-only">Time shown</legend>
          {RANGES.map((r) => (
            <button
              key={r.label}
              type="button"
              aria-pressed={r === range}
              onClick={() => setRange(r)}
              data-testid={`range-${r.hours}`}
            >
              {r.label}
            </button>
          ))}
        </fieldset>
        <Freshness live={history} pollMs={HISTORY_POLL_MS} />
      </div>
      <ErrorNote error={history.error} />
      <LineChart
        label="Waiting tasks, running tasks and wait times over time"
        empty={
          h === undefined
            ? 'Loading the queue history…'
            : 'No samples yet: the server records the queue once a minute (a point appears a minute after start).'
        }
        series={[
          {
            name: 'waiting tasks',
            className: 's-waiting',
            points: points.map((p) => ({ t: p.t, v: p.waiting })),
            format: (v) => String(v),
          },
          {
            name: 'running',
            className: 's-running',
            points: points.map((p) => ({ t: p.t, v: p.running })),
            format: (v) => String(v),
          },
          {
            name: 'wait before start (p95)',
            className: 's-p95',
            points: points.flatMap((p) => (p.waitP95Ms === null ? [] : [{ t: p.t, v: p.waitP95Ms }])),
            format: (v) => duration(v),
          },
          {
            name: 'oldest wait',
            className: 's-wait',
            points: points.map((p) => ({ t: p.t, v: p.oldestWaitMs ?? 0 })),
            format: (v) => duration(v),
          },
        ]}
      />
      <p className="muted small" data-testid="history-note">
        Sampled by the server once a minute
        {h === undefined ? '' : ` (${h.sampledMinutes} minutes in the last ${range.label})`}
        {per}
        {h?.teams === null || h === undefined ? '' : `, for your teams: ${h.teams.join(', ') || 'none'}`}; the
        last point is live. The wait before start is the 95th percentile of the tasks that started in the
        minute
        {bounded ? ' (across several teams: the highest team’s, an upper bound)' : ''}.
      </p>
    </>
  );
}
