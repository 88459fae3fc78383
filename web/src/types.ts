/** The API's JSON as the dashboard reads it (see docs/api.md and /api/v1/openapi.json). */
import type { Priority, TaskStatus } from '../../src/core/types';

export type { Priority, TaskStatus };
export type TeamRole = 'maintainer' | 'operator' | 'viewer';

export interface Me {
  email: string;
  admin: boolean;
  teams: { team: string; role: TeamRole }[];
  via: 'session' | 'token';
  csrfToken: string | null;
  expiresAt: string | null;
}

export interface Attempt {
  attempt: number;
  status: string;
  bridge: string | null;
  assignedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
}

export interface Task {
  seq: number;
  taskId: string;
  batchId: string | null;
  status: TaskStatus;
  priority: Priority;
  priorityLabel: string;
  team: string;
  machine: string | null;
  command: string;
  env: string[];
  secretEnv: Record<string, string>;
  outputArchive: string | null;
  retryCount: number;
  retryDelay: number;
  backoff: string;
  failureAction: string;
  timeout: number | null;
  attempts: number;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  retryAt: string | null;
  outputBytes: number;
  outputCapped: boolean;
  createdBy: string | null;
  attemptHistory?: Attempt[];
}

export interface OutputChunk {
  id: number;
  attempt: number;
  stream: 'stdout' | 'stderr' | 'system';
  at: string;
  data: string;
}

export interface QueueStats {
  pending: Record<string, number>;
  retrying: number;
  assigned: number;
  running: number;
  cancelling: number;
  oldestPendingAgeMs: number | null;
  busiestMachines: { machine: string; team: string; running: number; pending: number; concurrency: number }[];
}

export interface Failures {
  since: string;
  hours: number;
  failed: number;
  teams: { team: string; failed: number }[];
}

export interface Health {
  at: string | null;
  cpuPercent: number | null;
  load1: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  diskUsedBytes: number | null;
  diskTotalBytes: number | null;
}

export interface Machine {
  name: string;
  team: string;
  region: string;
  transport: string;
  concurrency: number;
  labels: Record<string, string>;
  host: string | null;
  port: number | null;
  user: string | null;
  running: number;
  pending: number;
  status: 'online' | 'offline' | 'unknown';
  statusSince: string | null;
  lastError: string | null;
  hostKeyFingerprint: string | null;
  keyCreatedAt: string | null;
  health: Health | null;
}

export interface HealthPoint {
  time: string;
  minute: number;
  cpuPercent: number | null;
  load1: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
}

export interface Bridge {
  name: string;
  region: string;
  online: boolean;
  lastSeenAt: string | null;
  running: number;
}

export interface WaitInfo {
  taskId: string;
  status: string;
  waiting: boolean;
  ahead: number | null;
  reasons: { code: string; text: string }[];
}

export interface VaultKey {
  name: string;
  version: number;
  updatedBy: string;
  updatedAt: string | null;
}

export interface TaskFilter {
  status?: string;
  priority?: string;
  team?: string;
  machine?: string;
  q?: string;
  batch?: string;
}
