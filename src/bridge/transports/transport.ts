import type { Assignment, OutputStream } from '../../core/types.js';

export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  reason: 'TIMEOUT' | 'SPAWN_FAILED' | 'MACHINE_UNREACHABLE' | null;
  /** A line for the task's output explaining a failure of the transport itself. */
  message?: string;
}

export interface RunHandle {
  /** When the process started (ms since the epoch, sub-ms precision), or null if it never did. */
  readonly startedAt: Promise<number | null>;
  readonly done: Promise<ExitInfo>;
  /** Stops the whole process tree: TERM, then KILL after the grace period. */
  kill(): void;
}

export type OutputSink = (stream: OutputStream, data: string) => void;

/** Runs one attempt's command on its machine. */
export interface Transport {
  run(task: Assignment, onOutput: OutputSink): RunHandle;
  close(): Promise<void>;
}
