import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';
import { type TestServer, waitFor } from './server.js';

const FINAL = ['completed', 'failed', 'cancelled'];

/** Creates one task through the API and returns its id. */
export async function createTask(t: TestServer, body: Record<string, unknown>): Promise<string> {
  const res = await t.api('POST', '/tasks', { machine: 'local', ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.taskId as string;
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
type TaskJson = any;

/** Polls the task until `accept` holds; returns it (with attemptHistory). */
export async function waitForTask(
  t: TestServer,
  taskId: string,
  accept: (task: TaskJson) => boolean,
  timeoutMs = 30_000,
): Promise<TaskJson> {
  return waitFor(async () => {
    const res = await t.api('GET', `/tasks/${taskId}`);
    return accept(res.body) ? res.body : undefined;
  }, timeoutMs);
}

export const waitForStatus = (t: TestServer, taskId: string, status: string, timeoutMs = 30_000) =>
  waitForTask(t, taskId, (task) => task.status === status, timeoutMs);

export const waitForEnd = (t: TestServer, taskId: string, timeoutMs = 30_000) =>
  waitForTask(t, taskId, (task) => FINAL.includes(task.status), timeoutMs);

/** Process ids whose full command line matches `pattern` (pgrep -f). */
export function pgrep(pattern: string): number[] {
  const r = spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number);
}

/** A marker unique to this run, usable as `sleep <marker>` (a valid duration of about 300 s). */
export function sleepMarker(): string {
  return `300.${process.pid}${Math.floor(Math.random() * 1e6)}`;
}

/** Text of all stored output of a task, optionally of one stream. */
export async function outputOf(t: TestServer, taskId: string, stream?: string): Promise<string> {
  const res = await t.api('GET', `/tasks/${taskId}/logs?limit=5000`);
  expect(res.status).toBe(200);
  return (res.body.chunks as { stream: string; data: string }[])
    .filter((c) => stream === undefined || c.stream === stream)
    .map((c) => c.data)
    .join('');
}
