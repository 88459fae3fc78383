/**
 * Glossary
 *
 * - task: one command to run on one machine, with a priority (1 highest … 5
 *   lowest), a retry policy and a failure action.
 * - attempt: one try of a task; a task has at most 1 + retryCount attempts per
 *   round (a manual retry starts a new round).
 * - batch: tasks created together (one request, a fan-out, a JSONL file).
 * - machine: a host tasks run on; belongs to one team and one region.
 * - bridge: a worker process that claims tasks for the machines of its region
 *   and runs them.
 * - region: a group of machines served by the same bridges.
 * - lease: the time a bridge may hold a task without a heartbeat; when it runs
 *   out the attempt ends `lost` and the retry policy decides.
 *
 * Times are milliseconds since the epoch (numbers); durations carry their unit
 * in their name.
 */

export const TASK_STATUSES = [
  'pending',
  'assigned',
  'running',
  'retrying',
  'cancelling',
  'completed',
  'failed',
  'cancelled',
] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Statuses a task can leave again. */
export const ACTIVE_STATUSES: readonly TaskStatus[] = [
  'pending',
  'assigned',
  'running',
  'retrying',
  'cancelling',
];
export const FINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

export type Priority = 1 | 2 | 3 | 4 | 5;
export const PRIORITY_LABELS: Record<Priority, string> = {
  1: 'critical',
  2: 'high',
  3: 'normal',
  4: 'background',
  5: 'low',
};
export const DEFAULT_PRIORITY: Priority = 3;

export type FailureAction = 'alert' | 'none';
export type Backoff = 'fixed' | 'exponential';
export type Transport = 'local' | 'ssh';
export type OutputStream = 'stdout' | 'stderr' | 'system';

/** Why an attempt or a task did not complete. Stable codes, shown to users. */
export const FAILURE_REASONS = [
  'EXIT_NONZERO',
  'KILLED_BY_SIGNAL',
  'TIMEOUT',
  'LOST',
  'CANCELLED',
  'SPAWN_FAILED',
  'MACHINE_UNREACHABLE',
  'MACHINE_DELETED',
  'AUTH_FAILED',
  'HOST_KEY_MISMATCH',
  'ROLLOUT_HALTED',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

export type AttemptStatus = 'running' | 'completed' | 'failed' | 'cancelled' | 'lost';

export interface Attempt {
  attempt: number;
  status: AttemptStatus;
  bridge: string | null;
  assignedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  exitCode: number | null;
  signal: string | null;
  reason: FailureReason | null;
}

export interface Task {
  seq: number;
  taskId: string;
  batchId: string | null;
  status: TaskStatus;
  priority: Priority;
  team: string;
  machine: string | null;
  command: string;
  /** Names of the environment variables the task sets (values stay in the store). */
  envNames: string[];
  /** Environment variables filled from the team vault: name → vault key (never a value). */
  secretEnv: Record<string, string>;
  /** Where the output went when it was archived, or null. */
  outputArchive: string | null;
  retryCount: number;
  retryDelaySeconds: number;
  backoff: Backoff;
  failureAction: FailureAction;
  timeoutSeconds: number | null;
  attempts: number;
  attemptLimit: number;
  exitCode: number | null;
  signal: string | null;
  reason: FailureReason | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  retryAt: number | null;
  outputBytes: number;
  outputCapped: boolean;
  createdBy: string | null;
}

export interface Machine {
  id: number;
  name: string;
  team: string;
  region: string;
  transport: Transport;
  concurrency: number;
  labels: Record<string, string>;
  host: string | null;
  port: number | null;
  user: string | null;
  running: number;
  pending: number;
  createdAt: number;
  updatedAt: number;
  /** Pinned SSH host key ("ssh-ed25519 AAAA…"), or null until the first connection. */
  hostKey: string | null;
  /** When the SSH key in the vault was created (set, or last rotated). */
  keyCreatedAt: number | null;
  status: MachineStatus;
  statusSince: number | null;
  lastError: string | null;
  health: MachineHealth | null;
}

export type MachineStatus = 'unknown' | 'online' | 'offline';

export interface MachineHealth {
  at: number;
  cpuPercent: number | null;
  load1: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  diskUsedBytes: number | null;
  diskTotalBytes: number | null;
}

export interface Team {
  id: number;
  name: string;
  createdAt: number;
}

export interface Region {
  id: number;
  name: string;
  createdAt: number;
}

export interface Bridge {
  id: number;
  name: string;
  region: string;
  lastSeenAt: number | null;
  running: number;
  createdAt: number;
}

export interface Alert {
  id: number;
  kind: string;
  team: string;
  taskId: string | null;
  machine: string | null;
  message: string;
  createdAt: number;
}

/** A claimed attempt as the bridge receives it. */
export interface Assignment {
  taskId: string;
  attempt: number;
  command: string;
  timeoutSeconds: number | null;
  team: string;
  priority: Priority;
  machine: {
    name: string;
    transport: Transport;
    host: string | null;
    port: number | null;
    user: string | null;
    /** The pinned host key, or null to record the first one seen. */
    hostKey: string | null;
    /** The machine's private key in the team vault (`ssh/NAME`), as ciphertext. */
    sshKey: { key: string; version: number; ciphertext: string } | null;
  };
  env: Record<string, string>;
  /** Vault values for the environment; only the bridge can decrypt them. */
  secrets: { env: string; key: string; version: number; ciphertext: string }[];
  /** What the bridge needs to open `secrets`: key derivation settings and the wrapped team key. */
  vault: { kdf: string; teamKey: string } | null;
}

export interface QueueStats {
  pending: Record<Priority, number>;
  retrying: number;
  assigned: number;
  running: number;
  cancelling: number;
  oldestPendingAgeMs: number | null;
  busiestMachines: { machine: string; team: string; running: number; pending: number; concurrency: number }[];
  /** Pending tasks over all priorities. */
  pendingTotal: number;
  /** Age of the oldest waiting task per priority; null when none waits (or, for a subset of teams, the head is another team's). */
  oldestPendingAgeMsByPriority: Record<Priority, number | null>;
  /** Counts per team and priority: every lane that has held a task, at zero too. */
  lanes: QueueLane[];
}

export interface QueueLane {
  team: string;
  priority: Priority;
  pending: number;
  retrying: number;
  assigned: number;
  running: number;
  cancelling: number;
}
