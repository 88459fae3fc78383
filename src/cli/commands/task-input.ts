import { readFileSync } from 'node:fs';
import { parsePriority } from '../../core/priority.js';
import type { TaskInput } from '../../server/task-service.js';
import { usage } from '../errors.js';

export interface CreateTaskFlags {
  machine?: string;
  machines?: string;
  priority?: string;
  command?: string;
  retryCount?: string;
  retryDelay?: string;
  backoff?: string;
  failureAction?: string;
  timeout?: string;
  team?: string;
  env?: string[];
  retryPolicy?: string;
  file?: string;
  allowInlineSecret?: boolean;
  select?: string;
  all?: boolean;
  region?: string;
}

/** `k=v,k2=v2` → object (labels and selectors). */
export function parseLabels(text: string, flag = '--labels'): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').filter((p) => p.trim() !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usage(`${flag} takes key=value pairs separated by commas, got '${pair}'`, flag);
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return labels;
}

/** Parses a whole non-negative number given on the command line. */
export function parseCount(value: string, flag: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) > max) {
    throw usage(`${flag} must be a whole number from 0 to ${max}, got '${value}'`, flag);
  }
  return Number(value);
}

/** Parses a non-negative number of seconds (fractions allowed). */
export function parseSeconds(value: string, flag: string, positive = false): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (positive && n === 0)) {
    throw usage(
      `${flag} must be a ${positive ? 'positive' : 'non-negative'} number of seconds, got '${value}'`,
      flag,
    );
  }
  return n;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw usage(`${flag} must be one of ${allowed.join(', ')}, got '${value}'`, flag);
  }
  return value as T;
}

function parseEnv(pairs: string[] | undefined): Record<string, string> | undefined {
  if (pairs === undefined || pairs.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? '' : pair.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw usage(`--env takes NAME=value, got '${pair}'`, '--env');
    env[name] = pair.slice(eq + 1);
  }
  return env;
}

const POLICY_KEYS = new Set(['taskId', 'retryCount', 'retryDelay', 'failureAction', 'backoff']);

/** Reads the retry policy JSON of the public example ({"retryCount":3,"retryDelay":30,"failureAction":"alert"}). */
export function readRetryPolicy(path: string): Partial<TaskInput> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path === '-' ? 0 : path, 'utf8'));
  } catch (err) {
    throw usage(`--retry-policy ${path}: ${(err as Error).message}`, '--retry-policy');
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw usage(`--retry-policy ${path}: expected a JSON object`, '--retry-policy');
  }
  const unknown = Object.keys(raw).filter((k) => !POLICY_KEYS.has(k));
  if (unknown.length > 0) {
    throw usage(
      `--retry-policy ${path}: unknown key '${unknown[0]}' (allowed: ${[...POLICY_KEYS].join(', ')})`,
    );
  }
  const { taskId: _ignored, ...policy } = raw as Record<string, unknown>;
  return policy as Partial<TaskInput>;
}

/** The task fields given by flags; with `--file` they are defaults for every line. */
export function taskFromFlags(f: CreateTaskFlags): TaskInput {
  const t: TaskInput = {};
  if (f.retryPolicy !== undefined) Object.assign(t, readRetryPolicy(f.retryPolicy));
  if ([f.machine, f.machines, f.select].filter((x) => x !== undefined).length > 1) {
    throw usage('give one of --machine, --machines or --select');
  }
  if (f.all === true && f.select === undefined) throw usage('--all goes with --select');
  if (f.select !== undefined) {
    t.select = parseLabels(f.select, '--select');
    if (Object.keys(t.select).length === 0) throw usage('--select takes key=value pairs', '--select');
    if (f.all === true) t.all = true;
  }
  if (f.region !== undefined) t.region = f.region;
  if (f.machine !== undefined) t.machine = f.machine;
  if (f.machines !== undefined) {
    const list = f.machines
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    if (list.length === 0)
      throw usage('--machines takes a comma-separated list of machine names', '--machines');
    t.machines = list;
  }
  if (f.command !== undefined) t.command = f.command;
  if (f.priority !== undefined) {
    try {
      t.priority = parsePriority(f.priority);
    } catch (err) {
      throw usage(`--priority: ${(err as Error).message}`, '--priority');
    }
  }
  if (f.retryCount !== undefined) t.retryCount = parseCount(f.retryCount, '--retry-count', 100);
  if (f.retryDelay !== undefined) t.retryDelay = parseSeconds(f.retryDelay, '--retry-delay');
  if (f.backoff !== undefined) t.backoff = oneOf(f.backoff, ['fixed', 'exponential'] as const, '--backoff');
  if (f.failureAction !== undefined) {
    t.failureAction = oneOf(f.failureAction, ['alert', 'none'] as const, '--failure-action');
  }
  if (f.timeout !== undefined) t.timeout = parseSeconds(f.timeout, '--timeout', true);
  if (f.team !== undefined) t.team = f.team;
  if (f.allowInlineSecret === true) t.allowInlineSecret = true;
  const env = parseEnv(f.env);
  if (env !== undefined) t.env = env;
  return t;
}

/**
 * Reads tasks from JSONL (one JSON object per line; blank lines and lines
 * starting with # are skipped). Returns the tasks and each one's line number.
 */
export function parseJsonl(
  text: string,
  source: string,
  defaults: TaskInput,
): { tasks: TaskInput[]; lines: number[] } {
  const tasks: TaskInput[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw usage(`${source} line ${i + 1}: invalid JSON: ${(err as Error).message}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw usage(`${source} line ${i + 1}: expected a JSON object with the task's fields`);
    }
    const own = value as TaskInput;
    const merged: TaskInput = { ...defaults, ...own };
    if (own.machines !== undefined) delete merged.machine;
    if (own.machine !== undefined) delete merged.machines;
    tasks.push(merged);
    lines.push(i + 1);
  });
  if (tasks.length === 0) throw usage(`${source}: no tasks in the file`);
  return { tasks, lines };
}
