import { MINUTE_MS } from '../core/time.js';
import type { ConditionObservation } from '../store/notify-store.js';
import { type AlertRules, PRIORITY_KEYS } from './rules.js';

export interface QueueLevels {
  pending: readonly { team: string; priority: number; pending: number }[];
  oldest: readonly { team: string; taskId: string; machine: string; queuedAt: number }[];
}

const tasks = (n: number, what = '') => `${n} ${what}task${n === 1 ? '' : 's'}`;

const mins = (ms: number) => {
  const m = ms / MINUTE_MS;
  return m >= 10 || Number.isInteger(m) ? `${Math.round(m)} min` : `${m.toFixed(1)} min`;
};

/**
 * What one evaluation sees for every team and threshold: the team's pending
 * total, each priority with a threshold, and the longest-waiting task. Pure:
 * the store turns these into one alert per breach and one per recovery.
 */
export function observeLevels(
  teams: readonly { team: string; rules: AlertRules }[],
  levels: QueueLevels,
  now: number,
): ConditionObservation[] {
  const out: ConditionObservation[] = [];
  for (const { team, rules } of teams) {
    const byPriority = new Map<string, number>();
    for (const l of levels.pending) {
      if (l.team === team)
        byPriority.set(String(l.priority), (byPriority.get(String(l.priority)) ?? 0) + l.pending);
    }
    const total = [...byPriority.values()].reduce((a, b) => a + b, 0);
    const holdMs = rules.queueMinutes * MINUTE_MS;
    const queueState = (n: number, threshold: number | undefined) =>
      !rules.queueLength || threshold === undefined ? 'off' : n > threshold ? 'breached' : 'clear';
    out.push({
      team,
      key: 'queue',
      state: queueState(total, rules.queueThreshold),
      holdMs,
      fire: {
        kind: 'queue_high',
        message: `team ${team}: ${tasks(total)} pending, above the threshold of ${rules.queueThreshold}${holdMs > 0 ? ` for ${mins(holdMs)}` : ''}`,
      },
      recover: {
        kind: 'queue_recovered',
        message: `team ${team}: ${tasks(total)} pending, no longer above the threshold of ${rules.queueThreshold}`,
      },
    });
    for (const p of PRIORITY_KEYS) {
      const n = byPriority.get(p) ?? 0;
      const threshold = rules.priorityThresholds[p];
      out.push({
        team,
        key: `queue:p${p}`,
        state: queueState(n, threshold),
        holdMs,
        fire: {
          kind: 'queue_high',
          message: `team ${team}: ${tasks(n, `priority-${p} `)} pending, above the threshold of ${threshold}${holdMs > 0 ? ` for ${mins(holdMs)}` : ''}`,
        },
        recover: {
          kind: 'queue_recovered',
          message: `team ${team}: ${tasks(n, `priority-${p} `)} pending, no longer above the threshold of ${threshold}`,
        },
      });
    }
    const oldest = levels.oldest.find((o) => o.team === team);
    const limitMs = rules.waitThresholdMinutes * MINUTE_MS;
    const waitedMs = oldest === undefined ? 0 : now - oldest.queuedAt;
    out.push({
      team,
      key: 'wait',
      state: !rules.taskWait ? 'off' : oldest !== undefined && waitedMs > limitMs ? 'breached' : 'clear',
      holdMs: 0,
      fire: {
        kind: 'task_wait_high',
        message:
          oldest === undefined
            ? ''
            : `team ${team}: task ${oldest.taskId}${oldest.machine === '' ? '' : ` on ${oldest.machine}`} has waited ${mins(waitedMs)}, longer than ${mins(limitMs)}`,
        taskId: oldest?.taskId ?? null,
        machine: oldest === undefined || oldest.machine === '' ? null : oldest.machine,
      },
      recover: {
        kind: 'task_wait_recovered',
        message: `team ${team}: no task waits longer than ${mins(limitMs)} any more`,
      },
    });
  }
  return out;
}
