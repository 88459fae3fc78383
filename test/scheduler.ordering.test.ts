import { describe, expect, it } from 'vitest';
import type { Priority } from '../src/core/types.js';
import {
  type Candidate,
  compareCandidates,
  DEFAULT_AGING_INTERVAL_MS,
  DEFAULT_CRITICAL_RESERVE,
  effectivePriority,
  laneDepth,
  pickForMachine,
  type SlotState,
} from '../src/scheduler/ordering.js';

const AGING = 10 * 60 * 1000;
const NOW = 1_700_000_000_000;

/** Candidates created `ageMs` before NOW (default: fresh). */
function make(specs: { seq: number; priority: Priority; ageMs?: number }[]): Candidate[] {
  return specs.map((s) => ({ seq: s.seq, priority: s.priority, createdAt: NOW - (s.ageMs ?? 0) }));
}

/** Splits candidates into one lane per priority, each in seq order (as the store reads them). */
function lanes(cands: Candidate[]): Candidate[][] {
  return [1, 2, 3, 4, 5].map((p) => cands.filter((c) => c.priority === p).sort((a, b) => a.seq - b.seq));
}

function slots(partial: Partial<SlotState>): SlotState {
  return { running: 0, concurrency: 1, criticalReserve: 1, max: 100, ...partial };
}

describe('defaults', () => {
  it('ages every 10 minutes and reserves one critical slot', () => {
    expect(DEFAULT_AGING_INTERVAL_MS).toBe(600_000);
    expect(DEFAULT_CRITICAL_RESERVE).toBe(1);
  });
});

describe('effectivePriority', () => {
  it('is the priority itself for a fresh task', () => {
    for (const p of [1, 2, 3, 4, 5] as const) expect(effectivePriority(p, NOW, NOW, AGING)).toBe(p);
  });

  it('moves up one level per full aging interval waited', () => {
    expect(effectivePriority(5, NOW - AGING + 1, NOW, AGING)).toBe(5);
    expect(effectivePriority(5, NOW - AGING, NOW, AGING)).toBe(4);
    expect(effectivePriority(5, NOW - 2 * AGING, NOW, AGING)).toBe(3);
    expect(effectivePriority(5, NOW - 3 * AGING + 1, NOW, AGING)).toBe(3);
    expect(effectivePriority(4, NOW - 2 * AGING, NOW, AGING)).toBe(2);
  });

  it('never ages into priority 1, however long a task waits', () => {
    expect(effectivePriority(5, NOW - 3 * AGING, NOW, AGING)).toBe(2);
    expect(effectivePriority(5, NOW - 1000 * AGING, NOW, AGING)).toBe(2);
    expect(effectivePriority(2, NOW - 1000 * AGING, NOW, AGING)).toBe(2);
    expect(effectivePriority(1, NOW - 1000 * AGING, NOW, AGING)).toBe(1);
  });

  it('does not age when aging is off or the clock is behind the creation time', () => {
    expect(effectivePriority(5, NOW - 100 * AGING, NOW, 0)).toBe(5);
    expect(effectivePriority(5, NOW - 100 * AGING, NOW, -1)).toBe(5);
    expect(effectivePriority(4, NOW + 10 * AGING, NOW, AGING)).toBe(4);
  });
});

describe('compareCandidates', () => {
  it('orders by priority first', () => {
    const [a, b] = make([
      { seq: 1, priority: 4 },
      { seq: 2, priority: 2 },
    ]) as [Candidate, Candidate];
    expect(compareCandidates(a, b, NOW, AGING)).toBeGreaterThan(0);
    expect(compareCandidates(b, a, NOW, AGING)).toBeLessThan(0);
  });

  it('is first in, first out within a priority', () => {
    const [a, b] = make([
      { seq: 7, priority: 3 },
      { seq: 9, priority: 3 },
    ]) as [Candidate, Candidate];
    expect(compareCandidates(a, b, NOW, AGING)).toBeLessThan(0);
    expect(compareCandidates(b, a, NOW, AGING)).toBeGreaterThan(0);
    expect(compareCandidates(a, a, NOW, AGING)).toBe(0);
  });

  it('uses the aged priority, so an old low task ties a fresh high one and wins by age', () => {
    const [old, fresh] = make([
      { seq: 1, priority: 4, ageMs: AGING },
      { seq: 2, priority: 3 },
    ]) as [Candidate, Candidate];
    expect(compareCandidates(old, fresh, NOW, AGING)).toBeLessThan(0);
    // Without aging the fresh priority-3 task comes first.
    expect(compareCandidates(old, fresh, NOW, 0)).toBeGreaterThan(0);
  });
});

describe('pickForMachine', () => {
  it('picks in priority order, FIFO within a priority', () => {
    const c = make([
      { seq: 1, priority: 5 },
      { seq: 2, priority: 3 },
      { seq: 3, priority: 3 },
      { seq: 4, priority: 2 },
      { seq: 5, priority: 4 },
      { seq: 6, priority: 2 },
    ]);
    const picked = pickForMachine(lanes(c), slots({ concurrency: 10 }), NOW, AGING);
    expect(picked.map((p) => p.seq)).toEqual([4, 6, 2, 3, 5, 1]);
  });

  it('respects concurrency: only free slots are filled', () => {
    const c = make([
      { seq: 1, priority: 3 },
      { seq: 2, priority: 3 },
      { seq: 3, priority: 3 },
    ]);
    expect(
      pickForMachine(lanes(c), slots({ concurrency: 3, running: 1 }), NOW, AGING).map((p) => p.seq),
    ).toEqual([1, 2]);
    expect(pickForMachine(lanes(c), slots({ concurrency: 3, running: 3 }), NOW, AGING)).toEqual([]);
  });

  it('lets priority 1 exceed concurrency by exactly the critical reserve', () => {
    const c = make([
      { seq: 1, priority: 1 },
      { seq: 2, priority: 1 },
      { seq: 3, priority: 1 },
      { seq: 4, priority: 2 },
    ]);
    // Machine full: only the reserve is left, and only for priority 1.
    const full = pickForMachine(
      lanes(c),
      slots({ concurrency: 2, running: 2, criticalReserve: 1 }),
      NOW,
      AGING,
    );
    expect(full.map((p) => p.seq)).toEqual([1]);
    const reserve2 = pickForMachine(
      lanes(c),
      slots({ concurrency: 2, running: 2, criticalReserve: 2 }),
      NOW,
      AGING,
    );
    expect(reserve2.map((p) => p.seq)).toEqual([1, 2]);
    const noReserve = pickForMachine(
      lanes(c),
      slots({ concurrency: 2, running: 2, criticalReserve: 0 }),
      NOW,
      AGING,
    );
    expect(noReserve).toEqual([]);
    // From idle: criticals fill concurrency + reserve, the priority-2 task gets nothing.
    const idle = pickForMachine(
      lanes(c),
      slots({ concurrency: 2, running: 0, criticalReserve: 1 }),
      NOW,
      AGING,
    );
    expect(idle.map((p) => p.seq)).toEqual([1, 2, 3]);
  });

  it('does not give the critical reserve to an aged task', () => {
    const c = make([{ seq: 1, priority: 5, ageMs: 100 * AGING }]);
    expect(pickForMachine(lanes(c), slots({ concurrency: 1, running: 1 }), NOW, AGING)).toEqual([]);
  });

  it('never picks more than max', () => {
    const c = make([1, 2, 3, 4, 5].map((seq) => ({ seq, priority: 3 as const })));
    expect(
      pickForMachine(lanes(c), slots({ concurrency: 10, max: 2 }), NOW, AGING).map((p) => p.seq),
    ).toEqual([1, 2]);
    expect(pickForMachine(lanes(c), slots({ concurrency: 10, max: 0 }), NOW, AGING)).toEqual([]);
  });

  it('lets aged tasks overtake fresh ones of their new level by age, but never priority 1', () => {
    const c = make([
      { seq: 1, priority: 5, ageMs: 3 * AGING }, // effective 2
      { seq: 2, priority: 4, ageMs: 1 * AGING }, // effective 3
      { seq: 3, priority: 3 }, // fresh 3
      { seq: 4, priority: 2 }, // fresh 2
      { seq: 5, priority: 1 }, // critical
    ]);
    const picked = pickForMachine(lanes(c), slots({ concurrency: 10 }), NOW, AGING);
    expect(picked.map((p) => p.seq)).toEqual([5, 1, 4, 2, 3]);
  });

  it('keeps an older task of the same effective level ahead of an aged one', () => {
    const c = make([
      { seq: 1, priority: 3, ageMs: AGING + 5 }, // older fresh-level 3
      { seq: 2, priority: 4, ageMs: AGING }, // aged into 3
    ]);
    expect(pickForMachine(lanes(c), slots({ concurrency: 10 }), NOW, AGING).map((p) => p.seq)).toEqual([
      1, 2,
    ]);
  });

  it('returns nothing for empty lanes', () => {
    expect(pickForMachine([[], [], [], [], []], slots({ concurrency: 5 }), NOW, AGING)).toEqual([]);
  });
});

describe('laneDepth', () => {
  it('is the free slots for priorities 2-5 and free slots plus reserve for priority 1', () => {
    const s = slots({ concurrency: 4, running: 1, criticalReserve: 2, max: 100 });
    expect(laneDepth(1, s)).toBe(5);
    for (const p of [2, 3, 4, 5] as const) expect(laneDepth(p, s)).toBe(3);
  });

  it('is bounded by max and never negative', () => {
    expect(laneDepth(3, slots({ concurrency: 10, running: 0, max: 2 }))).toBe(2);
    expect(laneDepth(1, slots({ concurrency: 10, running: 0, max: 2 }))).toBe(2);
    expect(laneDepth(3, slots({ concurrency: 2, running: 5, criticalReserve: 1 }))).toBe(0);
    expect(laneDepth(1, slots({ concurrency: 2, running: 5, criticalReserve: 1 }))).toBe(0);
    expect(laneDepth(1, slots({ concurrency: 2, running: 2, criticalReserve: 1 }))).toBe(1);
  });

  it('reads deep enough for pickForMachine to fill every slot from one lane', () => {
    const s = slots({ concurrency: 3, running: 0, max: 100 });
    const all = make([1, 2, 3, 4, 5].map((seq) => ({ seq, priority: 4 as const })));
    const truncated = [[], [], [], all.slice(0, laneDepth(4, s)), []];
    expect(pickForMachine(truncated, s, NOW, AGING)).toHaveLength(3);
  });
});
