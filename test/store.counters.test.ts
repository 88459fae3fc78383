import { describe, expect, it } from 'vitest';
import { TASK_STATUSES, type TaskStatus } from '../src/core/types.js';
import { COUNTED_STATUSES, CounterDelta, MachineDelta, occupiesSlot } from '../src/store/counters.js';

const sorted = <T extends { teamId: number; priority: number; status: string }>(xs: T[]) =>
  xs.sort((a, b) => a.teamId - b.teamId || a.priority - b.priority || a.status.localeCompare(b.status));

describe('COUNTED_STATUSES', () => {
  it('holds exactly the active statuses', () => {
    expect([...COUNTED_STATUSES].sort()).toEqual([
      'assigned',
      'cancelling',
      'pending',
      'retrying',
      'running',
    ]);
  });
});

describe('CounterDelta', () => {
  it('moves one task between two counted statuses: -1 and +1', () => {
    const d = new CounterDelta();
    d.move(1, 3, 'pending', 'assigned');
    expect(sorted([...d.entries()])).toEqual([
      { teamId: 1, priority: 3, status: 'assigned', n: 1 },
      { teamId: 1, priority: 3, status: 'pending', n: -1 },
    ]);
  });

  it('a new task only adds, a finished task only subtracts', () => {
    const d = new CounterDelta();
    d.move(1, 2, null, 'pending');
    d.move(1, 2, 'running', 'completed');
    expect(sorted([...d.entries()])).toEqual([
      { teamId: 1, priority: 2, status: 'pending', n: 1 },
      { teamId: 1, priority: 2, status: 'running', n: -1 },
    ]);
  });

  it('ignores moves between uncounted statuses and moves to the same status', () => {
    const d = new CounterDelta();
    d.move(1, 3, 'completed', 'cancelled');
    d.move(1, 3, 'failed', 'failed');
    d.move(1, 3, 'pending', 'pending');
    d.move(1, 3, null, null);
    expect([...d.entries()]).toEqual([]);
  });

  it('sums moves per (team, priority, status) and leaves out counters that net to zero', () => {
    const d = new CounterDelta();
    for (let i = 0; i < 5; i += 1) d.move(1, 3, null, 'pending');
    d.move(1, 3, 'pending', 'assigned');
    d.move(1, 3, 'assigned', 'running');
    d.move(2, 3, null, 'pending');
    d.move(1, 4, null, 'pending');
    expect(sorted([...d.entries()])).toEqual([
      { teamId: 1, priority: 3, status: 'pending', n: 4 },
      { teamId: 1, priority: 3, status: 'running', n: 1 },
      { teamId: 1, priority: 4, status: 'pending', n: 1 },
      { teamId: 2, priority: 3, status: 'pending', n: 1 },
    ]);
  });

  it('a full life cycle nets to nothing', () => {
    const d = new CounterDelta();
    const path: (TaskStatus | null)[] = [
      null,
      'pending',
      'assigned',
      'running',
      'retrying',
      'pending',
      'assigned',
      'running',
      'cancelling',
      'cancelled',
    ];
    for (let i = 1; i < path.length; i += 1) d.move(7, 5, path[i - 1] ?? null, path[i] ?? null);
    expect([...d.entries()]).toEqual([]);
  });
});

describe('occupiesSlot', () => {
  it('is 1 exactly for assigned, running and cancelling', () => {
    const holding = TASK_STATUSES.filter((s) => occupiesSlot(s) === 1);
    expect(holding.sort()).toEqual(['assigned', 'cancelling', 'running']);
    expect(occupiesSlot(null)).toBe(0);
    expect(occupiesSlot('pending')).toBe(0);
    expect(occupiesSlot('retrying')).toBe(0);
  });
});

describe('MachineDelta', () => {
  it('tracks pending and running per machine', () => {
    const d = new MachineDelta();
    d.move(1, null, 'pending');
    d.move(1, null, 'pending');
    d.move(1, 'pending', 'assigned');
    d.move(2, null, 'pending');
    expect([...d.entries()].sort((a, b) => a.machineId - b.machineId)).toEqual([
      { machineId: 1, running: 1, pending: 1 },
      { machineId: 2, running: 0, pending: 1 },
    ]);
  });

  it('frees the slot when a task leaves it, whatever the end', () => {
    for (const end of ['completed', 'failed', 'cancelled', 'retrying'] as const) {
      const d = new MachineDelta();
      d.move(3, 'running', end);
      expect([...d.entries()]).toEqual([{ machineId: 3, running: -1, pending: 0 }]);
    }
  });

  it('a move from running to cancelling keeps the slot', () => {
    const d = new MachineDelta();
    d.move(3, 'running', 'cancelling');
    d.move(3, 'assigned', 'running');
    expect([...d.entries()]).toEqual([]);
  });

  it('ignores tasks without a machine and no-op moves', () => {
    const d = new MachineDelta();
    d.move(null, null, 'pending');
    d.move(4, 'running', 'running');
    d.move(4, null, 'pending');
    d.move(4, 'pending', 'assigned');
    d.move(4, 'assigned', 'completed');
    d.move(5, null, 'pending');
    d.move(5, 'pending', 'cancelled');
    expect([...d.entries()]).toEqual([]);
  });
});
