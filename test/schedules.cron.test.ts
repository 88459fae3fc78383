import { describe, expect, it } from 'vitest';
import {
  canonicalTimezone,
  lastRunAtOrBefore,
  nextRunAfter,
  nextRunsAfter,
  parseCronSpec,
} from '../src/schedules/cron.js';
import { type DueSchedule, decide } from '../src/schedules/due.js';

const at = (text: string) => Date.parse(text);
const isoList = (ms: number[]) => ms.map((m) => new Date(m).toISOString());

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('cron expressions', () => {
  it('five fields, read in UTC by default', () => {
    const spec = parseCronSpec('0 3 * * *');
    expect(spec).toEqual({ cron: '0 3 * * *', timezone: 'UTC' });
    expect(isoList(nextRunsAfter(spec, at('2026-01-01T03:00:00Z'), 3))).toEqual([
      '2026-01-02T03:00:00.000Z',
      '2026-01-03T03:00:00.000Z',
      '2026-01-04T03:00:00.000Z',
    ]);
  });

  it('the next run is strictly after the reference, also within the same second', () => {
    const spec = parseCronSpec('* * * * *');
    expect(nextRunAfter(spec, at('2026-01-01T10:00:00.000Z'))).toBe(at('2026-01-01T10:01:00Z'));
    expect(nextRunAfter(spec, at('2026-01-01T10:00:00.400Z'))).toBe(at('2026-01-01T10:01:00Z'));
    expect(nextRunAfter(spec, at('2026-01-01T09:59:59.999Z'))).toBe(at('2026-01-01T10:00:00Z'));
  });

  it('the last run at or before a time', () => {
    const spec = parseCronSpec('*/15 * * * *');
    expect(lastRunAtOrBefore(spec, at('2026-01-01T10:15:00.000Z'))).toBe(at('2026-01-01T10:15:00Z'));
    expect(lastRunAtOrBefore(spec, at('2026-01-01T10:14:59.999Z'))).toBe(at('2026-01-01T10:00:00Z'));
    expect(lastRunAtOrBefore(spec, at('2026-01-01T10:29:30.000Z'))).toBe(at('2026-01-01T10:15:00Z'));
  });

  it('normalises spaces and accepts nicknames, names and ranges', () => {
    expect(parseCronSpec('  0   3 * *  * ').cron).toBe('0 3 * * *');
    expect(parseCronSpec('@MIDNIGHT').cron).toBe('@midnight');
    const daily = parseCronSpec('@daily');
    expect(nextRunAfter(daily, at('2026-01-01T05:00:00Z'))).toBe(at('2026-01-02T00:00:00Z'));
    const weekdays = parseCronSpec('30 8 * * MON-FRI');
    // 2026-01-02 is a Friday: the next one is Monday the 5th.
    expect(nextRunAfter(weekdays, at('2026-01-02T09:00:00Z'))).toBe(at('2026-01-05T08:30:00Z'));
  });

  it('day of month and day of week combine with OR, as in Vixie cron', () => {
    // The 13th, or any Friday.
    const spec = parseCronSpec('0 0 13 * 5');
    expect(isoList(nextRunsAfter(spec, at('2026-02-01T00:00:00Z'), 3))).toEqual([
      '2026-02-06T00:00:00.000Z',
      '2026-02-13T00:00:00.000Z',
      '2026-02-20T00:00:00.000Z',
    ]);
  });

  it('reads times in the given zone, winter and summer', () => {
    const spec = parseCronSpec('0 3 * * *', 'Europe/Berlin');
    expect(nextRunAfter(spec, at('2026-01-10T00:00:00Z'))).toBe(at('2026-01-10T02:00:00Z'));
    expect(nextRunAfter(spec, at('2026-07-10T00:00:00Z'))).toBe(at('2026-07-10T01:00:00Z'));
    const ny = parseCronSpec('0 9 * * *', 'America/New_York');
    expect(nextRunAfter(ny, at('2026-07-10T00:00:00Z'))).toBe(at('2026-07-10T13:00:00Z'));
  });

  it('DST spring forward: a fixed time in the gap runs at the first valid time after it', () => {
    // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    const spec = parseCronSpec('30 2 * * *', 'Europe/Berlin');
    expect(isoList(nextRunsAfter(spec, at('2026-03-28T00:00:00Z'), 3))).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, right after the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('DST spring forward: an interval expression skips the missing hour', () => {
    const spec = parseCronSpec('*/30 * * * *', 'Europe/Berlin');
    expect(isoList(nextRunsAfter(spec, at('2026-03-29T00:10:00Z'), 3))).toEqual([
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST (02:00 and 02:30 do not exist)
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
    ]);
  });

  it('DST fall back: a fixed time in the repeated hour runs once', () => {
    // Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    const spec = parseCronSpec('30 2 * * *', 'Europe/Berlin');
    expect(isoList(nextRunsAfter(spec, at('2026-10-24T00:00:00Z'), 3))).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z', // the first 02:30 (CEST) only
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('DST fall back: an interval expression runs in both copies of the hour', () => {
    const spec = parseCronSpec('*/30 2 * * *', 'Europe/Berlin');
    expect(isoList(nextRunsAfter(spec, at('2026-10-24T23:00:00Z'), 4))).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('canonical zone names', () => {
    expect(canonicalTimezone('utc')).toBe('UTC');
    expect(canonicalTimezone('europe/berlin')).toBe('Europe/Berlin');
    expect(parseCronSpec('0 3 * * *', 'Asia/Tokyo').timezone).toBe('Asia/Tokyo');
  });

  it.each([
    ['six fields (seconds)', '* * * * * *', 'INVALID_CRON'],
    ['seven fields', '0 0 0 * * * 2026', 'INVALID_CRON'],
    ['four fields', '0 3 * *', 'INVALID_CRON'],
    ['empty', '   ', 'INVALID_CRON'],
    ['minute out of range', '61 * * * *', 'INVALID_CRON'],
    ['hour out of range', '0 24 * * *', 'INVALID_CRON'],
    ['garbage', 'every day at 3', 'INVALID_CRON'],
    ['unknown nickname', '@sometimes', 'INVALID_CRON'],
    ['an ISO date, not a pattern', '2026-01-01T00:00:00Z', 'INVALID_CRON'],
    ['never matches', '0 0 30 2 *', 'INVALID_CRON'],
    ['bad step', '*/0 * * * *', 'INVALID_CRON'],
    ['too long', `0 3 * * ${'1,'.repeat(120)}1`, 'INVALID_CRON'],
  ])('refuses %s', (_label, cron, code) => {
    expect(codeOf(() => parseCronSpec(cron))).toBe(code);
  });

  it.each(['Mars/Olympus_Mons', 'Europe/Berlinn', '+01:00', 'CET; rm -rf /', '', 'a'.repeat(80)])(
    'refuses the zone %j',
    (zone) => {
      expect(codeOf(() => parseCronSpec('0 3 * * *', zone))).toBe('INVALID_TIMEZONE');
    },
  );
});

describe('what a due schedule does', () => {
  const every = (overrides: Partial<DueSchedule> = {}): DueSchedule => ({
    cron: '* * * * *',
    timezone: 'UTC',
    nextRunAt: at('2026-01-01T10:00:00Z'),
    catchUp: false,
    overlap: 'skip',
    ...overrides,
  });

  it('on time: runs for its due time and moves to the next one', () => {
    const d = decide(every(), at('2026-01-01T10:00:00.800Z'), false);
    expect(d).toMatchObject({
      kind: 'fire',
      dueAt: at('2026-01-01T10:00:00Z'),
      nextRunAt: at('2026-01-01T10:01:00Z'),
      outcome: 'created',
      detail: null,
    });
  });

  it('a little late, within the limit: still runs for its due time', () => {
    const d = decide(every(), at('2026-01-01T10:00:45Z'), false);
    expect(d).toMatchObject({ kind: 'fire', dueAt: at('2026-01-01T10:00:00Z'), outcome: 'created' });
  });

  it('after downtime without catch-up: every due time that passed is missed; next is the next future time', () => {
    const d = decide(every(), at('2026-01-01T10:02:20Z'), false);
    expect(d).toMatchObject({
      kind: 'skip',
      outcome: 'missed',
      dueAt: at('2026-01-01T10:02:00Z'),
      nextRunAt: at('2026-01-01T10:03:00Z'),
    });
    expect(d.detail).toContain('3 run(s) due since 2026-01-01T10:00:00.000Z missed');
    const daily = every({ cron: '0 3 * * *', nextRunAt: at('2026-01-01T03:00:00Z') });
    expect(decide(daily, at('2026-01-01T09:00:00Z'), false)).toMatchObject({
      kind: 'skip',
      outcome: 'missed',
      dueAt: at('2026-01-01T03:00:00Z'),
      nextRunAt: at('2026-01-02T03:00:00Z'),
    });
  });

  it('after downtime with catch-up: one run for the whole missed period', () => {
    const d = decide(every({ catchUp: true }), at('2026-01-01T10:10:30Z'), false);
    expect(d).toMatchObject({
      kind: 'fire',
      outcome: 'caught-up',
      dueAt: at('2026-01-01T10:10:00Z'),
      nextRunAt: at('2026-01-01T10:11:00Z'),
    });
    const daily = decide(
      every({ cron: '0 3 * * *', nextRunAt: at('2026-01-01T03:00:00Z'), catchUp: true }),
      at('2026-01-03T09:00:00Z'),
      false,
    );
    expect(daily).toMatchObject({ kind: 'fire', outcome: 'caught-up', dueAt: at('2026-01-03T03:00:00Z') });
    expect(daily.detail).toContain('one run for 3 run(s)');
  });

  it('catch-up still respects overlap skip', () => {
    const d = decide(every({ catchUp: true }), at('2026-01-01T10:10:30Z'), true);
    expect(d).toMatchObject({
      kind: 'skip',
      outcome: 'overlap-skipped',
      nextRunAt: at('2026-01-01T10:11:00Z'),
    });
  });

  it('the lateness limit is a parameter', () => {
    expect(decide(every(), at('2026-01-01T10:00:30Z'), false, 10_000).kind).toBe('skip');
    expect(decide(every(), at('2026-01-01T10:00:30Z'), false, 60_000).kind).toBe('fire');
    // A limit longer than the period: the latest due time runs, the earlier ones are reported.
    const d = decide(every(), at('2026-01-01T10:02:10Z'), false, 5 * 60_000);
    expect(d).toMatchObject({
      kind: 'fire',
      dueAt: at('2026-01-01T10:02:00Z'),
      detail: '2 earlier run(s) missed',
    });
  });

  it('overlap skip: no run while the previous one goes on; allow: run anyway', () => {
    const now = at('2026-01-01T10:00:01Z');
    expect(decide(every(), now, true)).toMatchObject({
      kind: 'skip',
      outcome: 'overlap-skipped',
      nextRunAt: at('2026-01-01T10:01:00Z'),
    });
    expect(decide(every({ overlap: 'allow' }), now, true)).toMatchObject({ kind: 'fire' });
  });

  it('a long downtime is counted up to a limit and still lands on the latest due time', () => {
    const d = decide(every({ catchUp: true }), at('2026-01-10T10:00:30Z'), false);
    expect(d).toMatchObject({ kind: 'fire', dueAt: at('2026-01-10T10:00:00Z') });
    expect(d.detail).toContain('more than 1000');
  });
});
