import { describe, expect, it } from 'vitest';
import {
  buildSamples,
  downsample,
  MINUTE_MS,
  mergeTeams,
  percentile,
  pointOf,
  type SampleRecord,
  sampledMinute,
} from '../src/history/queue-samples.js';

const M = 1_700_000_040_000; // a minute boundary
const S = 1_000;

describe('percentile (nearest rank)', () => {
  it('takes the value at rank ceil(p × n)', () => {
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(ten, 50)).toBe(5);
    expect(percentile(ten, 95)).toBe(10);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('buildSamples', () => {
  it('adds up counters per team and in all, and computes waits per team and in all', () => {
    const [all, a, b, ...rest] = buildSamples({
      minute: M,
      takenAt: M + 65 * S,
      counters: [
        { teamId: 1, priority: 1, status: 'pending', n: 2 },
        { teamId: 1, priority: 3, status: 'running', n: 1 },
        { teamId: 1, priority: 3, status: 'assigned', n: 1 },
        { teamId: 2, priority: 5, status: 'pending', n: 4 },
        { teamId: 2, priority: 5, status: 'retrying', n: 1 },
        { teamId: 2, priority: 5, status: 'cancelling', n: 1 },
        // Zero counters make no team row.
        { teamId: 3, priority: 2, status: 'pending', n: 0 },
      ],
      starts: [
        { teamId: 1, waitMs: 1_000 },
        { teamId: 1, waitMs: 3_000 },
        { teamId: 2, waitMs: 10_000 },
      ],
      oldest: [
        { teamId: 1, queuedAt: M + 5 * S },
        { teamId: 2, queuedAt: M + 50 * S },
      ],
    });
    expect(rest).toEqual([]);
    expect(all).toMatchObject({
      teamId: 0,
      pending: [2, 0, 0, 0, 4],
      running: 3,
      retrying: 1,
      started: 3,
      waitP50Ms: 3_000,
      waitP95Ms: 10_000,
      waitMaxMs: 10_000,
      oldestWaitMs: 60_000,
    });
    expect(a).toMatchObject({
      teamId: 1,
      pending: [2, 0, 0, 0, 0],
      running: 2,
      started: 2,
      waitP50Ms: 1_000,
    });
    expect(a?.oldestWaitMs).toBe(60_000);
    expect(b).toMatchObject({ teamId: 2, running: 1, retrying: 1, waitP95Ms: 10_000, oldestWaitMs: 15_000 });
  });

  it('always writes the all-teams row, at zero on an idle queue', () => {
    expect(buildSamples({ minute: M, takenAt: M, counters: [], starts: [], oldest: [] })).toEqual([
      {
        teamId: 0,
        minute: M,
        takenAt: M,
        pending: [0, 0, 0, 0, 0],
        running: 0,
        retrying: 0,
        started: 0,
        waitP50Ms: null,
        waitP95Ms: null,
        waitMaxMs: null,
        oldestWaitMs: null,
      },
    ]);
  });
});

const row = (teamId: number, minute: number, o: Partial<SampleRecord> = {}): SampleRecord => ({
  teamId,
  minute,
  takenAt: minute + 61 * S,
  pending: [0, 0, 1, 0, 0],
  running: 1,
  retrying: 0,
  started: 0,
  waitP50Ms: null,
  waitP95Ms: null,
  waitMaxMs: null,
  oldestWaitMs: 5_000,
  ...o,
});

describe('mergeTeams', () => {
  it('adds up the teams of a minute; a minute without their rows is zero', () => {
    const points = mergeTeams(
      [M + MINUTE_MS, M],
      [row(1, M), row(2, M, { oldestWaitMs: 9_000, started: 2, waitP50Ms: 100, waitP95Ms: 200 })],
    );
    expect(
      points.map((p) => [p.minute, p.pendingTotal, p.running, p.oldestWaitMs, p.waitP95Ms, p.waitExact]),
    ).toEqual([
      [M, 2, 2, 9_000, 200, true],
      [M + MINUTE_MS, 0, 0, null, null, true],
    ]);
  });

  it('says when percentiles come from several teams (the highest team, an upper bound)', () => {
    const [p] = mergeTeams(
      [M],
      [
        row(1, M, { started: 1, waitP50Ms: 100, waitP95Ms: 100, waitMaxMs: 100 }),
        row(2, M, { started: 3, waitP50Ms: 50, waitP95Ms: 900, waitMaxMs: 900 }),
      ],
    );
    expect(p).toMatchObject({ started: 4, waitP50Ms: 100, waitP95Ms: 900, waitMaxMs: 900, waitExact: false });
  });
});

describe('downsample', () => {
  it('keeps the highest figure of each step and the sum of starts', () => {
    const points = [0, 1, 2, 3, 4].map((i) =>
      pointOf(
        row(0, M + i * MINUTE_MS, { pending: [0, 0, i === 1 ? 7 : 1, 0, 0], started: 1, waitP95Ms: i * 10 }),
      ),
    );
    const step = 5;
    const base = Math.floor(M / (step * MINUTE_MS)) * step * MINUTE_MS;
    // M is the last minute of its 5-minute step; the next four fill the following one.
    expect(downsample(points, step).map((p) => [p.minute, p.pendingTotal, p.started, p.waitP95Ms])).toEqual([
      [base, 1, 1, 0],
      [base + step * MINUTE_MS, 7, 4, 40],
    ]);
    expect(downsample(points, 1)).toEqual(points);
  });
});

describe('sampledMinute', () => {
  it('is the last minute that has ended', () => {
    expect(sampledMinute(M + 5 * S)).toBe(M - MINUTE_MS);
    expect(sampledMinute(M)).toBe(M - MINUTE_MS);
    expect(sampledMinute(M - 1)).toBe(M - 2 * MINUTE_MS);
  });
});
