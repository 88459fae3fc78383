import type { Assignment, OutputStream } from '../../core/types.js';

export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  reason: 'TIMEOUT' | 'SPAWN_FAILED' | 'MACHINE_UNREACHABLE' | 'AUTH_FAILED' | 'HOST_KEY_MISMATCH' | null;
  /** A line for the task's output explaining a failure of the transport itself. */
  message?: string | undefined;
}

export interface RunHandle {
  /** When the process started (ms since the epoch, sub-ms precision), or null if it never did. */
  readonly startedAt: Promise<number | null>;
  readonly done: Promise<ExitInfo>;
  /** Stops the whole process tree: TERM, then KILL after the grace period. */
  kill(): void;
}

export interface RunOptions {
  /** The machine's SSH private key, decrypted from the team vault (SSH machines only). */
  privateKey?: string | null;
}

export type OutputSink = (stream: OutputStream, data: string) => void;

/** Runs one attempt's command on its machine. */
export interface Transport {
  run(task: Assignment, onOutput: OutputSink, options?: RunOptions): RunHandle;
  close(): Promise<void>;
}
