import type {
  Alert,
  Attempt,
  AttemptStatus,
  Backoff,
  Bridge,
  FailureAction,
  FailureReason,
  Machine,
  MachineStatus,
  Priority,
  Task,
  TaskStatus,
  Transport,
} from '../../core/types.js';

export interface TaskRow {
  seq: number;
  task_id: string;
  batch_id: string | null;
  team_id: number;
  team_name: string;
  region_id: number;
  machine_id: number | null;
  machine_name: string;
  status: string;
  priority: number;
  command: string;
  env: string;
  retry_count: number;
  retry_delay_s: number;
  backoff: string;
  failure_action: string;
  timeout_s: number | null;
  attempts: number;
  attempt_limit: number;
  bridge_id: number | null;
  lease_expires_at: number | null;
  exit_code: number | null;
  signal: string | null;
  reason: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  retry_at: number | null;
  output_bytes: number;
  output_capped: number;
  created_by: string | null;
  secret_env: string;
  output_archive: string | null;
}

export const TASK_COLUMNS = `t.*, tm.name AS team_name`;
export const TASK_FROM = `tasks t JOIN teams tm ON tm.id = t.team_id`;

export function toTask(r: TaskRow): Task {
  return {
    seq: r.seq,
    taskId: r.task_id,
    batchId: r.batch_id,
    status: r.status as TaskStatus,
    priority: r.priority as Priority,
    team: r.team_name,
    machine: r.machine_name === '' ? null : r.machine_name,
    command: r.command,
    envNames: [
      ...Object.keys(JSON.parse(r.env) as object),
      ...Object.keys(JSON.parse(r.secret_env) as object),
    ],
    secretEnv: JSON.parse(r.secret_env) as Record<string, string>,
    outputArchive: r.output_archive,
    retryCount: r.retry_count,
    retryDelaySeconds: r.retry_delay_s,
    backoff: r.backoff as Backoff,
    failureAction: r.failure_action as FailureAction,
    timeoutSeconds: r.timeout_s,
    attempts: r.attempts,
    attemptLimit: r.attempt_limit,
    exitCode: r.exit_code,
    signal: r.signal,
    reason: r.reason as FailureReason | null,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    retryAt: r.retry_at,
    outputBytes: r.output_bytes,
    outputCapped: r.output_capped === 1,
    createdBy: r.created_by,
  };
}

export interface MachineRow {
  id: number;
  name: string;
  team_name: string;
  region_name: string;
  transport: string;
  concurrency: number;
  labels: string;
  host: string | null;
  port: number | null;
  ssh_user: string | null;
  running_count: number;
  pending_count: number;
  created_at: number;
  updated_at: number;
  host_key: string | null;
  key_created_at: number | null;
  status: string;
  status_since: number | null;
  last_error: string | null;
  health_at: number | null;
  cpu_percent: number | null;
  load1: number | null;
  mem_used: number | null;
  mem_total: number | null;
  disk_used: number | null;
  disk_total: number | null;
}

export const MACHINE_SELECT = `SELECT m.*, tm.name AS team_name, r.name AS region_name
  FROM machines m JOIN teams tm ON tm.id = m.team_id JOIN regions r ON r.id = m.region_id`;

export function toMachine(r: MachineRow): Machine {
  return {
    id: r.id,
    name: r.name,
    team: r.team_name,
    region: r.region_name,
    transport: r.transport as Transport,
    concurrency: r.concurrency,
    labels: JSON.parse(r.labels) as Record<string, string>,
    host: r.host,
    port: r.port,
    user: r.ssh_user,
    running: r.running_count,
    pending: r.pending_count,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    hostKey: r.host_key,
    keyCreatedAt: r.key_created_at,
    status: r.status as MachineStatus,
    statusSince: r.status_since,
    lastError: r.last_error,
    health:
      r.health_at === null
        ? null
        : {
            at: r.health_at,
            cpuPercent: r.cpu_percent,
            load1: r.load1,
            memUsedBytes: r.mem_used,
            memTotalBytes: r.mem_total,
            diskUsedBytes: r.disk_used,
            diskTotalBytes: r.disk_total,
          },
  };
}

export interface AttemptRow {
  attempt: number;
  status: string;
  bridge_name: string | null;
  assigned_at: number;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  signal: string | null;
  reason: string | null;
}

export function toAttempt(r: AttemptRow): Attempt {
  return {
    attempt: r.attempt,
    status: r.status as AttemptStatus,
    bridge: r.bridge_name,
    assignedAt: r.assigned_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    exitCode: r.exit_code,
    signal: r.signal,
    reason: r.reason as FailureReason | null,
  };
}

export interface BridgeRow {
  id: number;
  name: string;
  region_name: string;
  last_seen_at: number | null;
  running: number;
  created_at: number;
}

export function toBridge(r: BridgeRow): Bridge {
  return {
    id: r.id,
    name: r.name,
    region: r.region_name,
    lastSeenAt: r.last_seen_at,
    running: r.running,
    createdAt: r.created_at,
  };
}

export interface AlertRow {
  id: number;
  kind: string;
  team_name: string;
  task_id: string | null;
  machine_name: string | null;
  message: string;
  created_at: number;
}

export function toAlert(r: AlertRow): Alert {
  return {
    id: r.id,
    kind: r.kind,
    team: r.team_name,
    taskId: r.task_id,
    machine: r.machine_name,
    message: r.message,
    createdAt: r.created_at,
  };
}
