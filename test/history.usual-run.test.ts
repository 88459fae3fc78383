import { describe, expect, it } from 'vitest';
import { formatMs, formatRatio, judgeRun, summariseRuns } from '../src/history/usual-run.js';

const S = 1_000;

describe('summariseRuns', () => {
  it('takes the median as the usual run time, and the mean besides', () => {
    expect(summariseRuns([40 * S, 10 * S, 30 * S])).toEqual({ runs: 3, usualMs: 30 * S, meanMs: 26_667 });
    expect(summariseRuns([10 * S, 20 * S, 30 * S, 1_000 * S])).toEqual({
      runs: 4,
      usualMs: 25 * S,
      meanMs: 265 * S,
    });
    expect(summariseRuns([])).toEqual({ runs: 0, usualMs: null, meanMs: null });
    // Nonsense from a clock jump is left out.
    expect(summariseRuns([-5, Number.NaN, 7 * S]).runs).toBe(1);
  });
});

describe('judgeRun', () => {
  const twelve = summariseRuns(Array(12).fill(40 * S));

  it('says a run twice the usual time is slower, with the usual time and the number of runs', () => {
    const j = judgeRun(twelve, 80 * S);
    expect(j).toMatchObject({ verdict: 'SLOWER', slower: true, ratio: 2, usualMs: 40 * S, runs: 12 });
    expect(j.text).toBe('running 2× longer than usual (usual 40 s over 12 runs)');
    expect(judgeRun(twelve, 100 * S).text).toBe('running 2.5× longer than usual (usual 40 s over 12 runs)');
  });

  it('is not slower within 1.5× the usual time, or less than 5 s over it', () => {
    expect(judgeRun(twelve, 59 * S)).toMatchObject({ verdict: 'AS_USUAL', slower: false });
    expect(judgeRun(twelve, 59 * S).text).toBe('running 59 s, within the usual 40 s (12 runs)');
    expect(judgeRun(twelve, 60 * S).slower).toBe(true);
    // A 2 s job at 6 s is 3× but only 4 s over: not news.
    const short = summariseRuns([2 * S, 2 * S, 2 * S]);
    expect(judgeRun(short, 6 * S).slower).toBe(false);
    expect(judgeRun(short, 7 * S).slower).toBe(true);
  });

  it('gives no verdict on fewer than 3 earlier runs, or none', () => {
    const two = summariseRuns([40 * S, 40 * S]);
    expect(judgeRun(two, 400 * S)).toMatchObject({ verdict: 'TOO_FEW_RUNS', slower: false, ratio: 10 });
    expect(judgeRun(two, 400 * S).text).toBe(
      'running 6 min 40 s; usual 40 s over 2 runs, too few to compare',
    );
    expect(judgeRun(summariseRuns([]), 5 * S)).toMatchObject({ verdict: 'NO_EARLIER_RUNS', slower: false });
  });

  it('tells a task that does not run how long it usually takes', () => {
    expect(judgeRun(twelve, null)).toMatchObject({
      verdict: 'NOT_RUNNING',
      elapsedMs: null,
      text: 'usually takes 40 s (12 runs)',
    });
    expect(judgeRun(summariseRuns([]), null).text).toBe(
      'no earlier completed run of this command on this machine',
    );
  });

  it('handles commands that usually take no time at all', () => {
    const instant = summariseRuns([0, 0, 0]);
    expect(judgeRun(instant, 10 * S)).toMatchObject({ slower: true, ratio: null });
    expect(judgeRun(instant, 10 * S).text).toBe('running 10 s, usually done at once (3 runs)');
  });
});

describe('formatting', () => {
  it('writes durations and ratios as the dashboard shows them', () => {
    expect([850, 40 * S, 185 * S, 120 * S, 7_800 * S, 7_200 * S].map(formatMs)).toEqual([
      '850 ms',
      '40 s',
      '3 min 5 s',
      '2 min',
      '2 h 10 min',
      '2 h',
    ]);
    expect([1.5, 2, 2.04, 12.6].map(formatRatio)).toEqual(['1.5×', '2×', '2×', '13×']);
  });
});
