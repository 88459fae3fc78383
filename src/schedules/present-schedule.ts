import { parsePriority } from '../core/priority.js';
import { iso } from '../core/time.js';
import { VAULT_PREFIX } from '../server/task-expand.js';
import type { Schedule } from '../store/schedule-store.js';
import { nextRunsAfter } from './cron.js';

/** Next run times shown by default, and at most. */
export const DEFAULT_NEXT_RUNS = 5;
export const MAX_NEXT_RUNS = 100;

/** A schedule as the API shows it: ISO times, the template's defaults filled in, env values hidden. */
export function presentSchedule(s: Schedule, nextCount: number = DEFAULT_NEXT_RUNS) {
  const t = s.task;
  const env = Object.entries(t.env ?? {});
  const nextRuns =
    s.paused || s.nextRunAt === null || nextCount <= 0
      ? []
      : [s.nextRunAt, ...nextRunsAfter(s, s.nextRunAt, Math.min(nextCount, MAX_NEXT_RUNS) - 1)];
  return {
    scheduleId: s.scheduleId,
    name: s.name,
    team: s.team,
    cron: s.cron,
    timezone: s.timezone,
    overlap: s.overlap,
    catchUp: s.catchUp,
    paused: s.paused,
    task: {
      ...(t.machine === undefined ? {} : { machine: t.machine }),
      ...(t.machines === undefined ? {} : { machines: t.machines }),
      ...(t.select === undefined ? {} : { select: t.select }),
      ...(t.all === undefined ? {} : { all: t.all }),
      ...(t.region === undefined ? {} : { region: t.region }),
      command: t.command ?? '',
      priority: parsePriority(t.priority ?? 3),
      retryCount: t.retryCount ?? 0,
      retryDelay: t.retryDelay ?? 0,
      backoff: t.backoff ?? 'fixed',
      failureAction: t.failureAction ?? 'none',
      timeout: t.timeout ?? null,
      env: env.filter(([, v]) => !v.startsWith(VAULT_PREFIX)).map(([k]) => k),
      secretEnv: Object.fromEntries(
        env.filter(([, v]) => v.startsWith(VAULT_PREFIX)).map(([k, v]) => [k, v.slice(VAULT_PREFIX.length)]),
      ),
      allowInlineSecret: t.allowInlineSecret === true,
    },
    nextRunAt: iso(s.nextRunAt),
    nextRuns: nextRuns.map((ms) => iso(ms) as string),
    runPending: s.pendingDueAt !== null,
    lastRunAt: iso(s.lastRunAt),
    lastTaskIds: s.lastTaskIds,
    lastBatchId: s.lastBatchId,
    lastDueAt: iso(s.lastDueAt),
    lastOutcome: s.lastOutcome,
    lastDetail: s.lastDetail,
    createdBy: s.createdBy,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}
