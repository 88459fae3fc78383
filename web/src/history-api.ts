import { request } from './api';

/** The queue's history (GET /queue/history) and "slower than usual" (GET /tasks/{id}/usual, /tasks/usual). */

export interface HistoryPoint {
  at: string;
  pending: Record<string, number>;
  pendingTotal: number;
  running: number;
  retrying: number;
  started: number;
  waitP50Ms: number | null;
  waitP95Ms: number | null;
  waitMaxMs: number | null;
  oldestWaitMs: number | null;
  waitExact: boolean;
}

export interface QueueHistory {
  hours: number;
  stepMinutes: number;
  since: string;
  until: string;
  teams: string[] | null;
  sampledMinutes: number;
  points: HistoryPoint[];
}

export interface UsualRun {
  taskId: string;
  status: string;
  machine: string | null;
  /** The current attempt's start. */
  startedAt: string | null;
  runs: number;
  usualMs: number | null;
  meanMs: number | null;
  elapsedMs: number | null;
  ratio: number | null;
  slower: boolean;
  verdict: string;
  text: string;
}

export const historyApi = {
  queueHistory: (hours: number, step: number) =>
    request<QueueHistory>('GET', `/queue/history?hours=${hours}&step=${step}`),
  taskUsual: (id: string) => request<UsualRun>('GET', `/tasks/${encodeURIComponent(id)}/usual`),
  tasksUsual: (ids: readonly string[]) =>
    request<{ tasks: UsualRun[] }>('GET', `/tasks/usual?ids=${ids.map(encodeURIComponent).join(',')}`),
};
