import type { TaskStatus } from '../core/types.js';

/** Statuses that have a maintained counter per team and priority. */
export const COUNTED_STATUSES: ReadonlySet<TaskStatus> = new Set([
  'pending',
  'assigned',
  'running',
  'retrying',
  'cancelling',
]);

/**
 * Collects counter changes within one transaction, so each (team, priority,
 * status) counter is written once however many tasks moved.
 */
export class CounterDelta {
  private readonly deltas = new Map<string, number>();

  move(teamId: number, priority: number, from: TaskStatus | null, to: TaskStatus | null): void {
    if (from === to) return;
    if (from !== null && COUNTED_STATUSES.has(from)) this.add(teamId, priority, from, -1);
    if (to !== null && COUNTED_STATUSES.has(to)) this.add(teamId, priority, to, 1);
  }

  private add(teamId: number, priority: number, status: TaskStatus, n: number): void {
    const key = `${teamId}|${priority}|${status}`;
    this.deltas.set(key, (this.deltas.get(key) ?? 0) + n);
  }

  *entries(): Generator<{ teamId: number; priority: number; status: TaskStatus; n: number }> {
    for (const [key, n] of this.deltas) {
      if (n === 0) continue;
      const [teamId, priority, status] = key.split('|');
      yield { teamId: Number(teamId), priority: Number(priority), status: status as TaskStatus, n };
    }
  }
}

/** Per-machine changes of the running and pending counts. */
export class MachineDelta {
  private readonly deltas = new Map<number, { running: number; pending: number }>();

  move(machineId: number | null, from: TaskStatus | null, to: TaskStatus | null): void {
    if (machineId === null || from === to) return;
    const d = this.deltas.get(machineId) ?? { running: 0, pending: 0 };
    d.running += occupiesSlot(to) - occupiesSlot(from);
    d.pending += (to === 'pending' ? 1 : 0) - (from === 'pending' ? 1 : 0);
    this.deltas.set(machineId, d);
  }

  *entries(): Generator<{ machineId: number; running: number; pending: number }> {
    for (const [machineId, d] of this.deltas) {
      if (d.running !== 0 || d.pending !== 0) yield { machineId, ...d };
    }
  }
}

/** Whether a task in this status holds one of its machine's slots. */
export function occupiesSlot(status: TaskStatus | null): number {
  return status === 'assigned' || status === 'running' || status === 'cancelling' ? 1 : 0;
}
