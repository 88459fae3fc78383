import type { AttemptEvent, TransitionSummary } from './store.js';

/** Adds an attempt's start or end to a unit of work's summary, for metrics. */
export function noteAttempt(summary: TransitionSummary, event: AttemptEvent): void {
  if (summary.attempts === undefined) summary.attempts = [];
  summary.attempts.push(event);
}
