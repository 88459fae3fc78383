import { MINUTE_MS } from '../core/time.js';
import { type CronSpec, lastRunAtOrBefore, nextRunAfter } from './cron.js';

/**
 * What a schedule does when its time has come, as a pure function of its
 * settings, the clock and whether its previous run still goes on.
 */

export const OVERLAP_POLICIES = ['skip', 'allow'] as const;
/** `skip`: no new run while tasks of the previous one wait or run. `allow`: start regardless. */
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** What became of one due time. */
export const SCHEDULE_OUTCOMES = ['created', 'caught-up', 'overlap-skipped', 'missed', 'failed'] as const;
export type ScheduleOutcome = (typeof SCHEDULE_OUTCOMES)[number];

/** A due time handled later than this after it counts as missed (server down, paused duty). Default 1 min. */
export const DEFAULT_LATE_AFTER_MS = MINUTE_MS;
/** Due times counted one by one at most; past that the count is given as "more than". */
const MAX_COUNTED = 1000;

export interface DueSchedule extends CronSpec {
  /** The stored next run time: the earliest due time not yet handled. */
  nextRunAt: number;
  catchUp: boolean;
  overlap: OverlapPolicy;
}

export type Decision =
  | {
      kind: 'fire';
      /** The due time the run is for (its idempotency key). */
      dueAt: number;
      nextRunAt: number | null;
      outcome: 'created' | 'caught-up';
      detail: string | null;
    }
  | {
      kind: 'skip';
      dueAt: number;
      nextRunAt: number | null;
      outcome: 'overlap-skipped' | 'missed';
      detail: string;
    };

/**
 * Decides for a schedule whose `nextRunAt` is at or before `now`. Lateness is
 * measured from `nextRunAt`, the earliest due time not yet handled: handled
 * within `lateAfterMs` it is on time and runs. Later than that, the servers
 * were down (or the duty stalled): every due time that passed meanwhile is
 * missed, and with catch-up one run is made for the whole period (for the
 * latest of them); without it the schedule skips to the next future time.
 * With overlap `skip` and the previous run still going on, the due time is
 * skipped.
 */
export function decide(
  s: DueSchedule,
  now: number,
  previousActive: boolean,
  lateAfterMs: number = DEFAULT_LATE_AFTER_MS,
): Decision {
  let latest = s.nextRunAt;
  let count = 1;
  for (;;) {
    const next = nextRunAfter(s, latest);
    if (next === null || next > now) break;
    latest = next;
    count += 1;
    if (count > MAX_COUNTED) {
      latest = Math.max(latest, lastRunAtOrBefore(s, now) ?? latest);
      break;
    }
  }
  const nextRunAt = nextRunAfter(s, Math.max(latest, now));
  const runs = count > MAX_COUNTED ? `more than ${MAX_COUNTED} runs` : `${count} run(s)`;
  const lateSeconds = Math.round((now - s.nextRunAt) / 1000);
  const since = new Date(s.nextRunAt).toISOString();
  if (now - s.nextRunAt > lateAfterMs) {
    if (!s.catchUp) {
      return {
        kind: 'skip',
        dueAt: latest,
        nextRunAt,
        outcome: 'missed',
        detail: `${runs} due since ${since} missed (handled ${lateSeconds}s late); no catch-up, so none ran`,
      };
    }
    if (!(s.overlap === 'skip' && previousActive)) {
      return {
        kind: 'fire',
        dueAt: latest,
        nextRunAt,
        outcome: 'caught-up',
        detail: `one run for ${runs} due since ${since} (handled ${lateSeconds}s late)`,
      };
    }
  }
  // Only with a lateness limit longer than the cron's period can earlier due times pass unhandled here.
  const earlier = count > 1 ? `${count > MAX_COUNTED ? runs : `${count - 1} earlier run(s)`} missed` : null;
  if (s.overlap === 'skip' && previousActive) {
    return {
      kind: 'skip',
      dueAt: latest,
      nextRunAt,
      outcome: 'overlap-skipped',
      detail: `the previous run was still waiting or running${earlier === null ? '' : `; ${earlier}`}`,
    };
  }
  return { kind: 'fire', dueAt: latest, nextRunAt, outcome: 'created', detail: earlier };
}
