import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { DAY_MS } from '../core/time.js';
import type { OutputChunk, Store } from '../store/store.js';

/** How long a create's Idempotency-Key is remembered (a client retries within minutes, not weeks). */
export const IDEMPOTENCY_KEEP_MS = 7 * DAY_MS;

/** Marks a task whose output was empty: nothing was written anywhere. */
export const NO_OUTPUT = 'none';
const BATCH = 200;

/** One archive line: the output chunk with its context, as documented in docs/audit.md. */
export function archiveLine(
  task: { taskId: string; team: string; machine: string },
  chunk: OutputChunk,
): string {
  return JSON.stringify({
    task: task.taskId,
    team: task.team,
    machine: task.machine,
    attempt: chunk.attempt,
    stream: chunk.stream,
    time: new Date(chunk.at).toISOString(),
    text: chunk.data,
  });
}

/** `archive/2026-11-28.jsonl.gz`: one file per day the tasks ended (UTC). */
export function archiveFileFor(dataDir: string, finishedAt: number): string {
  return join(dataDir, 'archive', `${new Date(finishedAt).toISOString().slice(0, 10)}.jsonl.gz`);
}

/**
 * Moves the output of tasks that ended more than `retentionDays` ago into
 * gzip files (one gzip member per task, appended) and deletes it from the
 * store. Returns how many tasks it handled.
 */
export async function archiveOldOutput(
  store: Store,
  dataDir: string,
  retentionDays: number,
  now: number,
  log: Logger,
): Promise<number> {
  let done = 0;
  for (;;) {
    const tasks = await store.archiveCandidates(now - retentionDays * DAY_MS, BATCH);
    for (const task of tasks) {
      const lines: string[] = [];
      for (let after = 0; ; ) {
        const chunks = await store.listOutput(task.taskId, after, 5000);
        for (const c of chunks) lines.push(archiveLine(task, c));
        if (chunks.length < 5000) break;
        after = chunks.at(-1)?.id ?? after;
      }
      let location = NO_OUTPUT;
      if (lines.length > 0) {
        location = archiveFileFor(dataDir, task.finishedAt);
        mkdirSync(join(dataDir, 'archive'), { recursive: true, mode: 0o700 });
        appendFileSync(location, gzipSync(`${lines.join('\n')}\n`), { mode: 0o600 });
      }
      await store.markOutputArchived(task.taskId, location);
      done += 1;
    }
    if (tasks.length < BATCH) break;
  }
  if (done > 0) log.info({ tasks: done, retentionDays }, 'archived old task output');
  return done;
}
