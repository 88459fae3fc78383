import type { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import type { Format } from '../output.js';

export interface ApiTask {
  taskId: string;
  batchId: string | null;
  status: string;
  priority: number;
  priorityLabel: string;
  team: string;
  machine: string | null;
  command: string;
  attempts: number;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  retryCount: number;
  retryDelay: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  retryAt: string | null;
  [key: string]: unknown;
}

export interface ApiChunk {
  id: number;
  attempt: number;
  stream: 'stdout' | 'stderr' | 'system';
  at: string;
  data: string;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);
const RECONNECTS = 20;

/** Writes output chunks: raw to stdout/stderr, or one JSON object per line with its context. */
export class OutputPrinter {
  private readonly partial = new Map<string, { at: string; text: string }>();

  constructor(
    private readonly format: Format,
    private readonly task: Pick<ApiTask, 'taskId' | 'machine' | 'team'>,
  ) {}

  chunk(c: ApiChunk): void {
    if (this.format === 'text') {
      (c.stream === 'stdout' ? process.stdout : process.stderr).write(c.data);
      return;
    }
    const key = `${c.attempt}/${c.stream}`;
    const buffered = this.partial.get(key);
    const text = (buffered?.text ?? '') + c.data;
    const lines = text.split('\n');
    const rest = lines.pop() as string;
    for (const line of lines) this.line(buffered?.at ?? c.at, c.stream, c.attempt, line);
    if (rest === '') this.partial.delete(key);
    else
      this.partial.set(key, {
        at: buffered !== undefined && lines.length === 0 ? buffered.at : c.at,
        text: rest,
      });
  }

  end(): void {
    for (const [key, p] of this.partial) {
      const [attempt, stream] = key.split('/');
      this.line(p.at, stream as string, Number(attempt), p.text);
    }
    this.partial.clear();
  }

  private line(time: string, stream: string, attempt: number, line: string): void {
    process.stdout.write(
      `${JSON.stringify({ time, stream, attempt, machine: this.task.machine, team: this.task.team, task: this.task.taskId, line })}\n`,
    );
  }
}

/** Prints what is stored so far, page by page. */
export async function printStoredOutput(
  client: ApiClient,
  task: ApiTask,
  printer: OutputPrinter,
): Promise<void> {
  let after = 0;
  for (;;) {
    const page = await client.get<{ chunks: ApiChunk[]; next: number }>(
      `/tasks/${task.taskId}/logs?after=${after}&limit=2000`,
    );
    for (const c of page.chunks) printer.chunk(c);
    if (page.chunks.length === 0) break;
    after = page.next;
  }
  printer.end();
}

/**
 * Follows a task's output live until it ends, reconnecting where it left off
 * if the connection drops. Returns the ended task.
 */
export async function followTask(
  client: ApiClient,
  taskId: string,
  printer: OutputPrinter | null,
  onStatus: (status: string) => void = () => {},
): Promise<ApiTask> {
  let after = 0;
  let failures = 0;
  for (;;) {
    try {
      for await (const ev of client.events(`/tasks/${taskId}/logs?follow=1&after=${after}`)) {
        failures = 0;
        if (ev.event === 'output') {
          const c = JSON.parse(ev.data) as ApiChunk;
          after = Math.max(after, c.id);
          printer?.chunk(c);
        } else if (ev.event === 'status') {
          onStatus((JSON.parse(ev.data) as { status: string }).status);
        } else if (ev.event === 'end') {
          printer?.end();
          return JSON.parse(ev.data) as ApiTask;
        }
      }
    } catch (err) {
      if (err instanceof CliError && err.exitCode === 2) throw err;
      failures += 1;
      if (failures > RECONNECTS) throw err;
    }
    // The stream ended without an end event (server restart): check, then reconnect.
    const task = await client.get<ApiTask>(`/tasks/${taskId}`).catch(() => null);
    if (task !== null && FINAL.has(task.status)) {
      if (printer !== null) {
        let more = true;
        while (more) {
          const page = await client.get<{ chunks: ApiChunk[]; next: number }>(
            `/tasks/${taskId}/logs?after=${after}`,
          );
          for (const c of page.chunks) printer.chunk(c);
          more = page.chunks.length > 0;
          after = page.next;
        }
        printer.end();
      }
      return task;
    }
    await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** failures)));
  }
}

/** The exit code `--wait` ends with: the command's own, 1 for other failures, 130 for cancelled. */
export function exitCodeOf(task: ApiTask): number {
  if (task.status === 'completed') return 0;
  if (task.status === 'cancelled') return 130;
  if (task.exitCode !== null && task.exitCode !== 0) return task.exitCode;
  return 1;
}
