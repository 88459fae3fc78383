import { AppError } from '../core/errors.js';

/**
 * A team's alert rules: which kinds of alert reach its channels, and the
 * thresholds of the queue and waiting-time rules. Every rule is on by
 * default; a team changes only what it needs (stored as JSON, merged over
 * the defaults, so a new rule added later starts at its default).
 */
export interface AlertRules {
  /** A task failed after its last attempt with failureAction alert. */
  taskFailed: boolean;
  /** A machine went offline, or came back. */
  machineOffline: boolean;
  /** Pending tasks of the team (or one priority) above a threshold for a while, and the recovery. */
  queueLength: boolean;
  /** A task waits longer than a threshold, and the recovery. */
  taskWait: boolean;
  /** A machine presented a host key other than the pinned one. */
  hostKeyMismatch: boolean;
  /** An SSH key is older than the team's maximum key age. */
  sshKeyAge: boolean;
  /** Pending tasks of the team at which the queue rule counts as breached. Default 1000. */
  queueThreshold: number;
  /** Per priority ("1"…"5"): pending tasks of that priority at which it counts as breached. Default none. */
  priorityThresholds: Partial<Record<PriorityKey, number>>;
  /** How long the queue must stay above its threshold before the alert, in minutes. Default 5. */
  queueMinutes: number;
  /** A task waiting longer than this (minutes) raises the waiting alert. Default 30. */
  waitThresholdMinutes: number;
}

export type PriorityKey = '1' | '2' | '3' | '4' | '5';
export const PRIORITY_KEYS: readonly PriorityKey[] = ['1', '2', '3', '4', '5'];

export const RULE_SWITCHES = [
  'taskFailed',
  'machineOffline',
  'queueLength',
  'taskWait',
  'hostKeyMismatch',
  'sshKeyAge',
] as const;
export type RuleSwitch = (typeof RULE_SWITCHES)[number];

/** CLI names of the switches (`--disable queue-length`). */
export const SWITCH_NAMES: Record<string, RuleSwitch> = {
  'task-failed': 'taskFailed',
  'machine-offline': 'machineOffline',
  'queue-length': 'queueLength',
  'task-wait': 'taskWait',
  'host-key-mismatch': 'hostKeyMismatch',
  'ssh-key-age': 'sshKeyAge',
};

export const DEFAULT_RULES: AlertRules = {
  taskFailed: true,
  machineOffline: true,
  queueLength: true,
  taskWait: true,
  hostKeyMismatch: true,
  sshKeyAge: true,
  queueThreshold: 1000,
  priorityThresholds: {},
  queueMinutes: 5,
  waitThresholdMinutes: 30,
};

/** Bounds of the numeric settings (also in the API schema). */
export const LIMITS = {
  threshold: { min: 1, max: 10_000_000 },
  minutes: { min: 0, max: 7 * 24 * 60 },
} as const;

/** Which rule decides whether an alert of this kind is sent; null: always sent. */
export function ruleOf(kind: string): RuleSwitch | null {
  switch (kind) {
    case 'task_failed':
      return 'taskFailed';
    case 'machine_offline':
    case 'machine_online':
      return 'machineOffline';
    case 'queue_high':
    case 'queue_recovered':
      return 'queueLength';
    case 'task_wait_high':
    case 'task_wait_recovered':
      return 'taskWait';
    case 'host_key_mismatch':
      return 'hostKeyMismatch';
    case 'ssh_key_old':
      return 'sshKeyAge';
    default:
      return null;
  }
}

/** The effective rules of stored settings (null or unreadable: the defaults). */
export function parseRules(text: string | null): AlertRules {
  if (text === null) return { ...DEFAULT_RULES, priorityThresholds: {} };
  try {
    return mergeRules(DEFAULT_RULES, JSON.parse(text) as Partial<AlertRules>);
  } catch {
    return { ...DEFAULT_RULES, priorityThresholds: {} };
  }
}

/** Whether an alert of `kind` stays unsent because its team turned the rule off. */
export function isMuted(kind: string, rulesText: string | null): boolean {
  const rule = ruleOf(kind);
  return rule !== null && !parseRules(rulesText)[rule];
}

/**
 * Applies a change to rules after checking it; unknown fields and values
 * out of range are VALIDATION_FAILED. A priority threshold of null removes it.
 */
export function mergeRules(base: AlertRules, patch: Record<string, unknown>): AlertRules {
  const out: AlertRules = { ...base, priorityThresholds: { ...base.priorityThresholds } };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if ((RULE_SWITCHES as readonly string[]).includes(key)) {
      if (typeof value !== 'boolean') throw bad(key, 'must be true or false');
      out[key as RuleSwitch] = value;
    } else if (key === 'queueThreshold') {
      out.queueThreshold = count(key, value);
    } else if (key === 'queueMinutes' || key === 'waitThresholdMinutes') {
      out[key] = minutes(key, value);
    } else if (key === 'priorityThresholds') {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw bad(key, 'must be an object like {"1": 5}');
      for (const [p, n] of Object.entries(value as Record<string, unknown>)) {
        if (!(PRIORITY_KEYS as readonly string[]).includes(p))
          throw bad(`${key}.${p}`, 'priority must be 1…5');
        if (n === null) delete out.priorityThresholds[p as PriorityKey];
        else out.priorityThresholds[p as PriorityKey] = count(`${key}.${p}`, n);
      }
    } else {
      throw bad(key, `unknown alert rule setting '${key}'`);
    }
  }
  return out;
}

function count(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < LIMITS.threshold.min || v > LIMITS.threshold.max)
    throw bad(field, `must be a whole number from ${LIMITS.threshold.min} to ${LIMITS.threshold.max}`);
  return v;
}

function minutes(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < LIMITS.minutes.min || v > LIMITS.minutes.max)
    throw bad(field, `must be minutes from ${LIMITS.minutes.min} to ${LIMITS.minutes.max}`);
  return v;
}

function bad(field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `${field}: ${message}`, 400, { field });
}
