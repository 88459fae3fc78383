import { request } from './api';
import type { Task, TaskStatus } from './types';

/**
 * The API calls of the operator pages (vault, audit, teams, bridges, batches,
 * search, machine history, channels, schedules): the same `request` as the
 * rest of the dashboard, so the session cookie and CSRF token go along.
 */

const q = (params: Record<string, string | number | undefined>): string => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v));
  const t = s.toString();
  return t === '' ? '' : `?${t}`;
};
const seg = encodeURIComponent;
/** A vault key's path: each segment encoded, the slashes kept (as the CLI). */
const keyPath = (key: string) => key.split('/').map(seg).join('/');

export interface VaultMaster {
  kdf: string;
  verifier: string;
}
export interface VaultSecret {
  name: string;
  version: number;
  ciphertext: string;
  updatedBy: string;
  updatedAt: string | null;
}

export interface AuditRecord {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  team: string | null;
  source: string | null;
  outcome: 'ok' | 'denied' | 'failed';
  details: Record<string, unknown>;
  hash: string;
}
export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  team?: string;
  since?: string;
  until?: string;
}
export interface AuditVerify {
  ok: boolean;
  checked: number;
  brokenAt?: number;
  problem?: string;
  lastHash?: string;
}

export interface Team {
  name: string;
  createdAt: string | null;
}
export interface Member {
  email: string;
  role: 'maintainer' | 'operator' | 'viewer';
  addedAt: string | null;
}
export interface Region {
  name: string;
  createdAt: string | null;
}

export interface BatchSummary {
  batchId: string;
  createdAt: string | null;
  createdBy: string | null;
  total: number;
  counts: Partial<Record<TaskStatus, number>>;
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
  startedAt: string | null;
  finishedAt: string | null;
}
export interface FailureGroup {
  pattern: string;
  example: string;
  reasons: string[];
  exitCodes: number[];
  count: number;
  tasks: { taskId: string; machine: string }[];
}

export interface SearchResult {
  q: string;
  tasks: {
    seq: number;
    taskId: string;
    team: string;
    machine: string;
    status: string;
    createdAt: string | null;
    lines: { chunkId: number; attempt: number; stream: string; at: string; text: string; column: number }[];
  }[];
  scannedTasks: number;
  scannedBytes: number;
  nextBefore: number | null;
  truncated: boolean;
  limits: { tasks: number; bytes: number; matches: number };
}

export interface MachineSummary {
  machine: string;
  team: string;
  /** Over the machine's newest tasks only: see `window`. */
  counts: Record<string, number>;
  window: { maxTasks: number; counted: number; since: string | null; complete: boolean };
  recent: {
    ended: number;
    completed: number;
    failed: number;
    cancelled: number;
    medianRunMs: number | null;
    lastFailureAt: string | null;
    statuses: string[];
  };
}

export interface Channel {
  team: string;
  name: string;
  type: string;
  url: string | null;
  smtp: { host: string; port: number; tls: string; user: string | null } | null;
  from: string | null;
  to: string[] | null;
  secretKeys: string[];
  createdBy: string | null;
  createdAt: string | null;
}
export interface AlertItem {
  id: number;
  team: string;
  kind: string;
  taskId: string | null;
  machine: string | null;
  message: string;
  createdAt: string | null;
  deliveries: {
    deliveryId: string;
    channel: string;
    status: string;
    attempts: number;
    lastError: string | null;
  }[];
  deliveryNote: string | null;
}
export interface Schedule {
  scheduleId: string;
  name: string;
  team: string;
  cron: string;
  timezone: string;
  overlap: string;
  paused: boolean;
  task: {
    machine?: string;
    machines?: string[];
    select?: Record<string, string>;
    command: string;
    priority: number;
  };
  nextRunAt: string | null;
  lastRunAt: string | null;
  lastOutcome: string | null;
  lastDetail: string | null;
  lastBatchId: string | null;
  lastTaskIds: string[];
  createdBy: string | null;
}

export const opsApi = {
  vaultMaster: () => request<VaultMaster>('GET', '/vault/master'),
  vaultList: (team: string) =>
    request<{ name: string; version: number; updatedBy: string; updatedAt: string | null }[]>(
      'GET',
      `/teams/${seg(team)}/vault`,
    ),
  vaultGet: (team: string, key: string) =>
    request<VaultSecret>('GET', `/teams/${seg(team)}/vault/${keyPath(key)}`),
  vaultPut: (team: string, key: string, ciphertext: string, expectedVersion: number) =>
    request<{ name: string; version: number }>('PUT', `/teams/${seg(team)}/vault/${keyPath(key)}`, {
      ciphertext,
      expectedVersion,
    }),
  vaultDelete: (team: string, key: string) =>
    request<null>('DELETE', `/teams/${seg(team)}/vault/${keyPath(key)}`),
  teamKey: (team: string) =>
    request<{ team: string; wrapped: string }>('GET', `/teams/${seg(team)}/vault-key`),
  createTeamKey: (team: string, wrapped: string) =>
    request<{ team: string }>('POST', `/teams/${seg(team)}/vault-key`, { wrapped }),

  audit: (f: AuditFilter & { before?: number; limit: number }) =>
    request<AuditRecord[]>('GET', `/audit${q({ ...f, order: 'desc' })}`),
  auditVerify: () => request<AuditVerify>('GET', '/audit/verify'),

  teams: () => request<Team[]>('GET', '/teams'),
  createTeam: (name: string) => request<Team>('POST', '/teams', { name }),
  deleteTeam: (name: string) => request<null>('DELETE', `/teams/${seg(name)}`),
  members: (team: string) => request<Member[]>('GET', `/teams/${seg(team)}/members`),
  setMember: (team: string, email: string, role: string) =>
    request<Member>('POST', `/teams/${seg(team)}/members`, { email, role }),
  removeMember: (team: string, email: string) =>
    request<null>('DELETE', `/teams/${seg(team)}/members/${seg(email)}`),
  regions: () => request<Region[]>('GET', '/regions'),
  createRegion: (name: string) => request<Region>('POST', '/regions', { name }),
  createBridge: (name: string, region: string) =>
    request<{ name: string; region: string; token: string }>('POST', '/bridges', { name, region }),
  resetBridgeToken: (name: string) =>
    request<{ name: string; region: string; token: string }>('POST', `/bridges/${seg(name)}/reset-token`, {}),

  batches: (before?: string) => request<BatchSummary[]>('GET', `/batches${q({ before, limit: 25 })}`),
  batchTasks: (id: string) =>
    request<{ batchId: string; total: number; counts: Record<string, number>; tasks: BatchTask[] }>(
      'GET',
      `/batches/${seg(id)}/tasks`,
    ),
  batchFailures: (id: string) =>
    request<{ batchId: string; failed: number; grouped: number; sampled: boolean; groups: FailureGroup[] }>(
      'GET',
      `/batches/${seg(id)}/failures`,
    ),
  rerunFailed: (id: string, body: { rolling?: string }) =>
    request<{
      batchId: string;
      from: string;
      count: number;
      taskIds: string[];
      skipped: { machine: string; why: string }[];
    }>('POST', `/batches/${seg(id)}/rerun-failed`, body),

  searchOutput: (params: {
    q: string;
    team?: string;
    machine?: string;
    status?: string;
    hours?: string;
    before?: number;
  }) => request<SearchResult>('GET', `/output/search${q(params)}`),
  machineSummary: (name: string) => request<MachineSummary>('GET', `/machines/${seg(name)}/task-summary`),
  machineTasks: (name: string, before?: number) =>
    request<Task[]>('GET', `/tasks${q({ machine: name, before, limit: 50 })}`),

  channels: () => request<Channel[]>('GET', '/channels'),
  createChannel: (team: string, body: Record<string, unknown>) =>
    request<Channel>('POST', `/teams/${seg(team)}/channels`, body),
  deleteChannel: (team: string, name: string) =>
    request<null>('DELETE', `/teams/${seg(team)}/channels/${seg(name)}`),
  testChannel: (team: string, name: string) =>
    request<{ ok: boolean; durationMs: number; error?: string | null }>(
      'POST',
      `/teams/${seg(team)}/channels/${seg(name)}/test`,
      {},
    ),
  alerts: () => request<AlertItem[]>('GET', '/alerts?limit=100'),
  alertRules: (team: string) =>
    request<{ team: string; rules: Record<string, unknown>; maxKeyAgeDays: number | null }>(
      'GET',
      `/teams/${seg(team)}/alert-rules`,
    ),

  schedules: () => request<Schedule[]>('GET', '/schedules'),
  pauseSchedule: (name: string, paused: boolean) =>
    request<Schedule>('PATCH', `/schedules/${seg(name)}`, { paused }),
  deleteSchedule: (name: string) => request<null>('DELETE', `/schedules/${seg(name)}`),
  createSchedule: (body: Record<string, unknown>) => request<Schedule>('POST', '/schedules', body),
};
