import { describe, expect, it } from 'vitest';
import { matchesSelector, type PlacementCandidate, pickLeastLoaded } from '../src/scheduler/placement.js';

function m(name: string, partial: Partial<PlacementCandidate> = {}): PlacementCandidate {
  return {
    name,
    online: true,
    labels: {},
    running: 0,
    concurrency: 4,
    cpuPercent: null,
    memoryUsedRatio: null,
    ...partial,
  };
}

describe('matchesSelector', () => {
  it('an empty selector matches everything', () => {
    expect(matchesSelector({}, {})).toBe(true);
    expect(matchesSelector({ gpu: 'yes' }, {})).toBe(true);
  });

  it('needs every selector label with the same value', () => {
    const labels = { gpu: 'yes', zone: 'eu' };
    expect(matchesSelector(labels, { gpu: 'yes' })).toBe(true);
    expect(matchesSelector(labels, { gpu: 'yes', zone: 'eu' })).toBe(true);
    expect(matchesSelector(labels, { gpu: 'no' })).toBe(false);
    expect(matchesSelector(labels, { gpu: 'yes', zone: 'us' })).toBe(false);
    expect(matchesSelector(labels, { disk: 'ssd' })).toBe(false);
  });

  it('compares values exactly (case, empty string)', () => {
    expect(matchesSelector({ gpu: 'Yes' }, { gpu: 'yes' })).toBe(false);
    expect(matchesSelector({}, { gpu: '' })).toBe(false);
    expect(matchesSelector({ gpu: '' }, { gpu: '' })).toBe(true);
  });
});

describe('pickLeastLoaded', () => {
  it('returns null when nothing qualifies', () => {
    expect(pickLeastLoaded([], {})).toBeNull();
    expect(
      pickLeastLoaded(
        [
          m('offline', { online: false }),
          m('full', { running: 4, concurrency: 4 }),
          m('other', { labels: { gpu: 'no' } }),
        ],
        { gpu: 'yes' },
      ),
    ).toBeNull();
  });

  it('skips offline, full and non-matching machines even if they are idler', () => {
    const picked = pickLeastLoaded(
      [
        m('a-offline', { online: false, labels: { gpu: 'yes' } }),
        m('b-full', { running: 2, concurrency: 2, labels: { gpu: 'yes' } }),
        m('c-nomatch', { labels: { gpu: 'no' } }),
        m('d-ok', { running: 3, concurrency: 4, labels: { gpu: 'yes' }, cpuPercent: 99 }),
      ],
      { gpu: 'yes' },
    );
    expect(picked?.name).toBe('d-ok');
  });

  it('prefers the fewest running tasks over CPU and memory', () => {
    const picked = pickLeastLoaded(
      [
        m('busy', { running: 2, cpuPercent: 1, memoryUsedRatio: 0.01 }),
        m('idle', { running: 1, cpuPercent: 95 }),
      ],
      {},
    );
    expect(picked?.name).toBe('idle');
  });

  it('then the lowest CPU use', () => {
    const picked = pickLeastLoaded(
      [
        m('hot', { running: 1, cpuPercent: 80, memoryUsedRatio: 0.1 }),
        m('cool', { running: 1, cpuPercent: 20, memoryUsedRatio: 0.9 }),
      ],
      {},
    );
    expect(picked?.name).toBe('cool');
  });

  it('then the lowest memory use', () => {
    const picked = pickLeastLoaded(
      [
        m('full-mem', { cpuPercent: 10, memoryUsedRatio: 0.8 }),
        m('free-mem', { cpuPercent: 10, memoryUsedRatio: 0.3 }),
      ],
      {},
    );
    expect(picked?.name).toBe('free-mem');
  });

  it('then the name, so the choice is deterministic whatever the input order', () => {
    const a = m('alpha');
    const b = m('beta');
    expect(pickLeastLoaded([b, a], {})?.name).toBe('alpha');
    expect(pickLeastLoaded([a, b], {})?.name).toBe('alpha');
  });

  it('counts unknown load as idle', () => {
    expect(
      pickLeastLoaded([m('known', { cpuPercent: 5 }), m('unknown', { cpuPercent: null })], {})?.name,
    ).toBe('unknown');
    expect(
      pickLeastLoaded([m('known', { memoryUsedRatio: 0.2 }), m('unknown', { memoryUsedRatio: null })], {})
        ?.name,
    ).toBe('unknown');
  });

  it('returns the candidate object itself', () => {
    const only = { ...m('x'), extra: 42 };
    expect(pickLeastLoaded([only], {})).toBe(only);
  });
});
