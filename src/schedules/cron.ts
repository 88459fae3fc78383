import { Cron } from 'croner';
import { AppError } from '../core/errors.js';

/**
 * Cron expressions and their run times, without I/O. Five fields (minute,
 * hour, day of month, month, day of week) or a nickname (@hourly, @daily,
 * @weekly, @monthly, @yearly); no seconds field, so a schedule runs at most
 * once a minute. Day of month and day of week combine with OR, as in Vixie
 * cron. Times are read in an IANA time zone (default UTC).
 *
 * Daylight saving time, as croner does it: a fixed time (single minute and
 * hour, like `30 2 * * *`) that falls into the spring gap runs at the first
 * valid time after it, and runs once when the autumn hour repeats; interval
 * expressions (`*∕15 * * * *`) skip the missing hour and run in both copies
 * of the repeated one.
 */

export const DEFAULT_TIMEZONE = 'UTC';
export const MAX_CRON_LENGTH = 200;
const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const TIMEZONE_PATTERN = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

export interface CronSpec {
  cron: string;
  timezone: string;
}

const invalidCron = (message: string) => new AppError('INVALID_CRON', message, 400, { field: 'cron' });

/** The IANA zone in its canonical spelling (`utc` → `UTC`); INVALID_TIMEZONE otherwise. */
export function canonicalTimezone(timezone: string): string {
  const bad = () =>
    new AppError(
      'INVALID_TIMEZONE',
      `timezone '${timezone}' is not an IANA time zone (like UTC or Europe/Berlin)`,
      400,
      { field: 'timezone' },
    );
  if (!TIMEZONE_PATTERN.test(timezone)) throw bad();
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    throw bad();
  }
}

/** Parsed expressions, kept because the duty asks the same few again and again. */
const jobs = new Map<string, Cron>();
const MAX_CACHED = 1000;

function job(spec: CronSpec): Cron {
  const key = `${spec.timezone}\u0000${spec.cron}`;
  let j = jobs.get(key);
  if (j === undefined) {
    // Without a function the job never runs on its own: it only answers questions about times.
    j = new Cron(spec.cron, { timezone: spec.timezone, mode: '5-part', paused: true });
    if (jobs.size >= MAX_CACHED) jobs.delete(jobs.keys().next().value as string);
    jobs.set(key, j);
  }
  return j;
}

/**
 * Checks an expression and a zone; returns them normalised (single spaces,
 * canonical zone). Refuses expressions that never match (`0 0 30 2 *`).
 */
export function parseCronSpec(cron: string, timezone: string = DEFAULT_TIMEZONE): CronSpec {
  const spaced = cron.trim().replace(/\s+/g, ' ');
  const text = spaced.startsWith('@') ? spaced.toLowerCase() : spaced;
  if (text === '' || text.length > MAX_CRON_LENGTH) {
    throw invalidCron(`cron must be 1 to ${MAX_CRON_LENGTH} characters`);
  }
  const fields = text.split(' ');
  if (text.startsWith('@')) {
    if (!NICKNAMES.has(text)) {
      throw invalidCron(`cron nickname '${text}' is unknown (use ${[...NICKNAMES].join(', ')})`);
    }
  } else if (fields.length !== 5) {
    throw invalidCron(
      `cron '${text}' has ${fields.length} field(s); give 5: minute hour day-of-month month day-of-week` +
        (fields.length === 6 ? ' (a seconds field is not supported)' : ''),
    );
  }
  const spec = { cron: text, timezone: canonicalTimezone(timezone) };
  let first: Date | null;
  try {
    first = job(spec).nextRun(new Date(0));
  } catch (err) {
    const detail = (err as Error).message.replace(/^CronPattern:\s*/, '');
    throw new AppError('INVALID_CRON', `cron '${text}' is invalid: ${detail}`, 400, {
      field: 'cron',
      cause: err,
    });
  }
  // Five fields have no year: a pattern that matches once matches again every few years.
  if (first === null) {
    throw invalidCron(`cron '${text}' never matches a date`);
  }
  return spec;
}

/** The first run time strictly after `afterMs` (ms since the epoch), or null if there is none. */
export function nextRunAfter(spec: CronSpec, afterMs: number): number | null {
  return job(spec).nextRun(new Date(afterMs))?.getTime() ?? null;
}

/** The next `count` run times strictly after `afterMs`. */
export function nextRunsAfter(spec: CronSpec, afterMs: number, count: number): number[] {
  if (count <= 0) return [];
  return job(spec)
    .nextRuns(count, new Date(afterMs))
    .map((d) => d.getTime());
}

/** The last run time at or before `atMs`, or null if there is none. */
export function lastRunAtOrBefore(spec: CronSpec, atMs: number): number | null {
  // Runs are on whole minutes; croner looks before its reference, so look a little later and drop what is too late.
  const found = job(spec)
    .previousRuns(2, new Date(atMs + 1000))
    .map((d) => d.getTime())
    .find((t) => t <= atMs);
  return found ?? null;
}
