import type { ApiClient } from '../client.js';
import { type Format, printJson, printTable, truncate } from '../output.js';
import type { ApiTask } from './follow.js';

interface BatchState {
  batchId: string;
  total: number;
  done: number;
  counts: Record<string, number>;
}

const POLL_MS = 300;

/** Shows progress (done/failed/total) until every task of the batch has ended; returns the exit code. */
export async function waitForBatch(client: ApiClient, batchId: string, format: Format): Promise<number> {
  const tty = process.stderr.isTTY === true;
  let shown = '';
  let state: BatchState;
  for (;;) {
    state = await client.get<BatchState>(`/batches/${batchId}`);
    const line = `done ${state.done}/${state.total}, failed ${state.counts.failed ?? 0}, running ${
      (state.counts.running ?? 0) + (state.counts.assigned ?? 0)
    }, waiting ${(state.counts.pending ?? 0) + (state.counts.retrying ?? 0)}`;
    if (format === 'text' && line !== shown) {
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      shown = line;
    }
    if (state.done >= state.total) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  if (format === 'text' && tty) process.stderr.write('\n');
  const failed = (state.counts.failed ?? 0) + (state.counts.cancelled ?? 0);
  if (format === 'json') {
    printJson(state);
    return failed === 0 ? 0 : 1;
  }
  const summary = await client.get<ApiTask[]>(`/tasks?batch=${batchId}&limit=1000`);
  printTable(
    ['MACHINE', 'STATUS', 'EXIT', 'ATTEMPTS', 'TASK ID', 'COMMAND'],
    summary
      .sort(
        (a, b) =>
          Number(a.status === 'completed') - Number(b.status === 'completed') ||
          String(a.machine).localeCompare(String(b.machine)),
      )
      .map((t) => [
        t.machine,
        t.status,
        t.exitCode ?? t.reason,
        t.attempts,
        t.taskId,
        truncate(t.command, 40),
      ]),
  );
  process.stdout.write(
    `${state.counts.completed ?? 0} completed, ${failed} failed or cancelled, ${state.total} total\n`,
  );
  return failed === 0 ? 0 : 1;
}
