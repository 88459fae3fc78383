import type { SampleRecord } from '../history/queue-samples.js';

/**
 * The queue's history per minute, and earlier run times of a command on a
 * machine. Every method is one atomic unit of work; times are parameters
 * (ms since the epoch).
 */
export interface HistoryStore {
  /**
   * Writes the samples of `minute` (its start), taken at `now`, unless they
   * are there already: the first of several replicas writes the minute, the
   * others find its all-teams row and write nothing. True when this call
   * wrote them.
   */
  sampleQueue(minute: number, now: number): Promise<boolean>;
  /** Deletes samples of minutes before `before`; returns how many rows. */
  pruneQueueSamples(before: number): Promise<number>;
  /**
   * Samples of minutes in [since, until), oldest first. `teams` null: the
   * all-teams rows. A set: the sampled minutes, and the rows of those teams
   * (a team without a row in a sampled minute had nothing).
   */
  queueSamples(f: {
    since: number;
    until: number;
    teams: ReadonlySet<string> | null;
  }): Promise<{ minutes: number[]; rows: SampleRecord[] }>;
  /**
   * For each existing task of `taskIds`: its team, status, machine, when its
   * current attempt started, and the run times of up to `runs` other
   * completed tasks with the same command on the same machine, newest first.
   */
  usualRuns(taskIds: readonly string[], runs: number): Promise<TaskRunHistory[]>;
}

export interface TaskRunHistory {
  taskId: string;
  team: string;
  status: string;
  machine: string | null;
  /** The current (last) attempt's start; null before it started. */
  attemptStartedAt: number | null;
  /** Run times (finished - started of the completing attempt) of earlier runs, newest first. */
  runsMs: number[];
}
