import type { BridgeReport, OutputChunk } from '../store.js';
import type { Statements } from './connection.js';

const CAP_MARKER = '\n[rediacc: output cap reached; further output of this task is discarded]\n';

/** The parts of a task row that output storage reads and updates. */
export interface OutputRow {
  seq: number;
  output_bytes: number;
  output_capped: number;
}

/**
 * Stores reported output chunks: each (attempt, chunk number) once, within the
 * task's output cap, the cap marked once where the output was cut.
 */
export function storeOutput<R extends OutputRow>(
  st: Statements,
  r: BridgeReport,
  live: (taskId: string) => R | null,
  ours: (row: R | null, attempt: number) => row is R,
): { taskId: string; chunk: OutputChunk }[] {
  const stored: { taskId: string; chunk: OutputChunk }[] = [];
  if (r.output.length === 0) return stored;
  const lastChunk = st.get('SELECT last_chunk FROM attempts WHERE task_seq = ? AND attempt = ?');
  const setLast = st.get('UPDATE attempts SET last_chunk = ? WHERE task_seq = ? AND attempt = ?');
  const insert = st.get(
    'INSERT INTO output_chunks (task_seq, attempt, stream, at, data) VALUES (?, ?, ?, ?, ?) RETURNING id',
  );
  const setBytes = st.get('UPDATE tasks SET output_bytes = ?, output_capped = ? WHERE seq = ?');
  for (const o of r.output) {
    const row = live(o.taskId);
    if (!ours(row, o.attempt) || row.output_capped === 1) continue;
    const last = lastChunk.get(row.seq, o.attempt) as { last_chunk: number } | undefined;
    if (last === undefined || o.chunk <= last.last_chunk) continue;
    setLast.run(o.chunk, row.seq, o.attempt);
    let data = o.data;
    let bytes = Buffer.byteLength(data);
    const room = r.outputCapBytes - row.output_bytes;
    const capped = bytes > room;
    if (capped) {
      data = Buffer.from(data)
        .subarray(0, Math.max(0, room))
        .toString('utf8')
        .replace(/\uFFFD$/, '');
      bytes = Buffer.byteLength(data);
    }
    const pieces: { stream: typeof o.stream; data: string }[] = [];
    if (data.length > 0) pieces.push({ stream: o.stream, data });
    if (capped) pieces.push({ stream: 'system', data: CAP_MARKER });
    for (const p of pieces) {
      const { id } = insert.get(row.seq, o.attempt, p.stream, o.at, p.data) as { id: number };
      stored.push({
        taskId: o.taskId,
        chunk: { id, attempt: o.attempt, stream: p.stream, at: o.at, data: p.data },
      });
    }
    row.output_bytes += bytes;
    row.output_capped = capped ? 1 : 0;
    setBytes.run(row.output_bytes, row.output_capped, row.seq);
  }
  return stored;
}
