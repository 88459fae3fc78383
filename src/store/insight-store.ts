import type { OutputStream, TaskStatus } from '../core/types.js';

/**
 * Reads for the dashboard's operator views: batches and their failures,
 * search across the output of many tasks, a machine's own history. Every
 * method is one read; `teams` limits what is seen (null: every team).
 */
export interface InsightStore {
  /** Batches newest first (batch ids are time-ordered), with counts per status of the visible tasks. */
  listBatches(f: {
    teams: ReadonlySet<string> | null;
    /** Only batches older than this batch id (paging). */
    before?: string;
    limit: number;
  }): Promise<BatchSummary[]>;
  /** Every visible task of a batch in creation order, as compact rows. */
  batchTasks(batchId: string, teams: ReadonlySet<string> | null): Promise<BatchTask[]>;
  /**
   * How many visible tasks of a batch failed, and the first `maxTasks` of them
   * (creation order), each with the end of its last attempt's output: its last
   * chunk (the output-cap note passed over), cut to its last `tailChars`
   * characters (bytes on PostgreSQL). One indexed look-up of one chunk per task.
   */
  failedTails(
    batchId: string,
    teams: ReadonlySet<string> | null,
    maxTasks: number,
    tailChars: number,
  ): Promise<{ total: number; tails: FailedTail[] }>;
  /** What running the visible failed tasks of a batch again needs, plain environment values included. */
  failedInputs(batchId: string, teams: ReadonlySet<string> | null): Promise<RerunSource[]>;
  /**
   * Output chunks of recent tasks that may contain `text` (ASCII letters in
   * any case). A superset: the caller confirms each chunk with
   * `matchesText` (src/server/insights/output-match.ts).
   */
  searchOutput(q: OutputSearch): Promise<OutputSearchPage>;
  /** The most stored output one search should read on this store, in bytes. */
  readonly searchMaxBytes: number;
  /**
   * Counts per status of a machine's last `windowTasks` tasks (by creation,
   * read newest first through the machine's index), and its most recently
   * ended ones (newest first).
   */
  machineTaskSummary(
    machine: string,
    team: string,
    recent: number,
    windowTasks: number,
  ): Promise<MachineTaskSummary>;
}

export interface BatchSummary {
  batchId: string;
  createdAt: number;
  createdBy: string | null;
  total: number;
  counts: Partial<Record<TaskStatus, number>>;
  /** The first task's command; `commands` > 1 when the batch holds different commands (a lower bound). */
  command: string;
  commands: number;
  teams: string[];
}

export interface BatchTask {
  seq: number;
  taskId: string;
  machine: string;
  team: string;
  status: TaskStatus;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  attempts: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface FailedTail {
  taskId: string;
  machine: string;
  team: string;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  /** The output went to an archive file: no tail here. */
  archived: boolean;
  tail: { stream: OutputStream; data: string }[];
}

export interface RerunSource {
  taskId: string;
  machine: string;
  team: string;
  command: string;
  priority: number;
  env: Record<string, string>;
  secretEnv: Record<string, string>;
  retryCount: number;
  retryDelaySeconds: number;
  backoff: 'fixed' | 'exponential';
  failureAction: 'alert' | 'none';
  timeoutSeconds: number | null;
}

export interface OutputSearch {
  text: string;
  teams: ReadonlySet<string> | null;
  team?: string;
  machine?: string;
  batchId?: string;
  status?: TaskStatus;
  /** Only tasks created at or after this time (ms). */
  since?: number;
  /** Only tasks older than this seq (the next, older window). */
  beforeSeq?: number;
  /** Most tasks whose output is read. */
  maxTasks: number;
  /** Most stored output read, in bytes (at least one task is read). */
  maxBytes: number;
  /** Most chunks returned. */
  limit: number;
}

export interface OutputSearchHit {
  seq: number;
  taskId: string;
  team: string;
  machine: string;
  status: TaskStatus;
  createdAt: number;
  chunkId: number;
  attempt: number;
  stream: OutputStream;
  at: number;
  data: string;
}

export interface OutputSearchPage {
  hits: OutputSearchHit[];
  /** Tasks and stored bytes whose output was read. */
  scannedTasks: number;
  scannedBytes: number;
  /** Older tasks remain outside this window: search again with beforeSeq = this. */
  nextBeforeSeq: number | null;
  /** More chunks matched than `limit`. */
  truncated: boolean;
}

export interface MachineTaskSummary {
  /** Per status, over the counted tasks only. */
  counts: Partial<Record<TaskStatus, number>>;
  /** Tasks counted (fewer than the window: every task the machine had). */
  counted: number;
  /** When the oldest counted task was created; null when none was counted. */
  countedSince: number | null;
  recent: {
    status: TaskStatus;
    exitCode: number | null;
    reason: string | null;
    startedAt: number | null;
    finishedAt: number | null;
  }[];
}
