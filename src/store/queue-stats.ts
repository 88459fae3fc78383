import type { Priority, QueueLane, QueueStats, TaskStatus } from '../core/types.js';

export const PRIORITIES: readonly Priority[] = [1, 2, 3, 4, 5];
/** Busiest machines listed when the caller names no number. */
export const DEFAULT_BUSIEST = 5;
export const MAX_BUSIEST = 100;

/** One maintained counter row: tasks of a team in a priority and status. */
export interface CounterRow {
  team: string;
  priority: Priority;
  status: TaskStatus;
  n: number;
}

/** The oldest waiting task of one priority over all teams (the head of its index lane). */
export interface LaneHead {
  priority: Priority;
  queuedAt: number;
  team: string;
}

const LANE_STATUSES = ['pending', 'retrying', 'assigned', 'running', 'cancelling'] as const;
type LaneStatus = (typeof LANE_STATUSES)[number];

function isLaneStatus(s: TaskStatus): s is LaneStatus {
  return (LANE_STATUSES as readonly string[]).includes(s);
}

/**
 * Queue stats from the maintained counters, the head of each priority's
 * waiting lane and the busiest machines: the same in both stores, and never
 * a scan of the task table.
 */
export function buildQueueStats(
  counters: readonly CounterRow[],
  heads: readonly LaneHead[],
  busiest: QueueStats['busiestMachines'],
  now: number,
  teams: ReadonlySet<string> | null,
): QueueStats {
  const visible = (team: string) => teams === null || teams.has(team);
  const stats: QueueStats = {
    pending: { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 },
    retrying: 0,
    assigned: 0,
    running: 0,
    cancelling: 0,
    oldestPendingAgeMs: null,
    busiestMachines: busiest.filter((m) => visible(m.team)),
    pendingTotal: 0,
    oldestPendingAgeMsByPriority: { 1: null, 2: null, 3: null, 4: null, 5: null },
    lanes: [],
  };
  const lanes = new Map<string, QueueLane>();
  for (const c of counters) {
    if (!visible(c.team) || !isLaneStatus(c.status)) continue;
    const priority = Number(c.priority) as Priority;
    const n = Number(c.n);
    if (c.status === 'pending') {
      stats.pending[priority] += n;
      stats.pendingTotal += n;
    } else stats[c.status] += n;
    const key = `${c.team}\u0000${priority}`;
    let lane = lanes.get(key);
    if (lane === undefined) {
      lane = { team: c.team, priority, pending: 0, retrying: 0, assigned: 0, running: 0, cancelling: 0 };
      lanes.set(key, lane);
    }
    lane[c.status] += n;
  }
  // Lanes at zero stay: metrics keep a steady series per team and priority.
  stats.lanes = [...lanes.values()].sort((a, b) =>
    a.team < b.team ? -1 : a.team > b.team ? 1 : a.priority - b.priority,
  );
  for (const h of heads) {
    // For a subset of teams the head of the global lane may belong to another team: then its age is not shown.
    if (!visible(h.team)) continue;
    const age = Math.max(0, now - Number(h.queuedAt));
    const p = Number(h.priority) as Priority;
    stats.oldestPendingAgeMsByPriority[p] = age;
    if (stats.oldestPendingAgeMs === null || age > stats.oldestPendingAgeMs) stats.oldestPendingAgeMs = age;
  }
  return stats;
}
