import type { OutputStream, TaskStatus } from '../../core/types.js';
import {
  cutToBudget,
  OUTPUT_CAP_NOTE,
  type RerunRow,
  sliceWindow,
  summariseBatchRows,
  toRerunSource,
} from '../insight-rows.js';
import type {
  BatchSummary,
  BatchTask,
  FailedTail,
  InsightStore,
  MachineTaskSummary,
  OutputSearch,
  OutputSearchHit,
  OutputSearchPage,
  RerunSource,
} from '../insight-store.js';
import type { Statements } from './connection.js';

/** `AND tm.name IN (…)` for the visible teams; the values go after the other arguments. */
function teamClause(teams: ReadonlySet<string> | null): { sql: string; args: string[] } {
  if (teams === null) return { sql: '', args: [] };
  return { sql: `AND tm.name IN (SELECT value FROM json_each(?))`, args: [JSON.stringify([...teams])] };
}

/**
 * Most stored output one search reads on SQLite (lower than PostgreSQL's: the
 * read holds the server's only thread), and the slices it is read in.
 */
const SEARCH_MAX_BYTES = 16 * 1024 * 1024;
const SEARCH_SLICE_BYTES = 2 * 1024 * 1024;

export class SqliteInsights implements InsightStore {
  readonly searchMaxBytes = SEARCH_MAX_BYTES;

  constructor(private readonly st: Statements) {}

  async listBatches(f: {
    teams: ReadonlySet<string> | null;
    before?: string;
    limit: number;
  }): Promise<BatchSummary[]> {
    if (f.teams !== null && f.teams.size === 0) return [];
    const teams = teamClause(f.teams);
    // Batch ids are UUIDv7: their order is their creation order, and the batch index reads them in it.
    const rows = this.st
      .get(
        `WITH ids AS (
           SELECT DISTINCT t.batch_id FROM tasks t JOIN teams tm ON tm.id = t.team_id
           WHERE t.batch_id IS NOT NULL AND t.batch_id < ? ${teams.sql}
           ORDER BY t.batch_id DESC LIMIT ?)
         SELECT t.batch_id, t.status, tm.name AS team, COUNT(*) AS n, MIN(t.created_at) AS created_at,
           MIN(t.seq) AS first_seq, MIN(t.command) AS command, COUNT(DISTINCT t.command) AS commands,
           MIN(t.created_by) AS created_by
         FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.batch_id IN (SELECT batch_id FROM ids) ${teams.sql}
         GROUP BY t.batch_id, t.status, tm.name`,
      )
      .all(f.before ?? '~', ...teams.args, f.limit, ...teams.args) as Parameters<
      typeof summariseBatchRows
    >[0];
    return summariseBatchRows(rows);
  }

  async batchTasks(batchId: string, teams: ReadonlySet<string> | null): Promise<BatchTask[]> {
    if (teams !== null && teams.size === 0) return [];
    const tc = teamClause(teams);
    return this.st
      .get(
        `SELECT t.seq, t.task_id AS taskId, t.machine_name AS machine, tm.name AS team, t.status,
           t.exit_code AS exitCode, t.signal, t.reason, t.attempts, t.started_at AS startedAt,
           t.finished_at AS finishedAt
         FROM tasks t JOIN teams tm ON tm.id = t.team_id WHERE t.batch_id = ? ${tc.sql} ORDER BY t.seq`,
      )
      .all(batchId, ...tc.args) as BatchTask[];
  }

  async failedTails(
    batchId: string,
    teams: ReadonlySet<string> | null,
    maxTasks: number,
    tailChars: number,
  ): Promise<{ total: number; tails: FailedTail[] }> {
    if (teams !== null && teams.size === 0) return { total: 0, tails: [] };
    const tc = teamClause(teams);
    const from = `FROM tasks t JOIN teams tm ON tm.id = t.team_id
       WHERE t.batch_id = ? AND t.status = 'failed' ${tc.sql}`;
    const count = this.st.get(`SELECT COUNT(*) AS n ${from}`);
    const list = this.st.get(
      `SELECT t.seq, t.attempts, t.task_id AS taskId, t.machine_name AS machine, tm.name AS team,
         t.exit_code AS exitCode, t.signal, t.reason, t.output_archive AS archive
       ${from} ORDER BY t.seq LIMIT ?`,
    );
    // One indexed look-up of one chunk per listed task (output_by_task, newest first).
    const tail = this.st.get(
      `SELECT stream, substr(data, -?) AS data FROM output_chunks
       WHERE task_seq = ? AND attempt = ? AND NOT (stream = 'system' AND data = ?)
       ORDER BY id DESC LIMIT 1`,
    );
    return this.st.db.transaction(() => {
      const { n } = count.get(batchId, ...tc.args) as { n: number };
      const failed = list.all(batchId, ...tc.args, maxTasks) as (Omit<FailedTail, 'tail' | 'archived'> & {
        seq: number;
        attempts: number;
        archive: string | null;
      })[];
      const tails = failed.map(({ seq, attempts, archive, ...t }) => ({
        ...t,
        archived: archive !== null,
        tail: tail.all(tailChars, seq, attempts, OUTPUT_CAP_NOTE) as { stream: OutputStream; data: string }[],
      }));
      return { total: n, tails };
    })();
  }

  async failedInputs(batchId: string, teams: ReadonlySet<string> | null): Promise<RerunSource[]> {
    if (teams !== null && teams.size === 0) return [];
    const tc = teamClause(teams);
    const rows = this.st
      .get(
        `SELECT t.task_id, t.machine_name, tm.name AS team, t.command, t.priority, t.env, t.secret_env,
           t.retry_count, t.retry_delay_s, t.backoff, t.failure_action, t.timeout_s
         FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.batch_id = ? AND t.status = 'failed' ${tc.sql} ORDER BY t.seq`,
      )
      .all(batchId, ...tc.args) as RerunRow[];
    return rows.map(toRerunSource);
  }

  async searchOutput(q: OutputSearch): Promise<OutputSearchPage> {
    const empty = { hits: [], scannedTasks: 0, scannedBytes: 0, nextBeforeSeq: null, truncated: false };
    if (q.teams !== null && q.teams.size === 0) return empty;
    const where: string[] = ['t.output_bytes > 0', 't.output_archive IS NULL'];
    const args: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      where.push(sql);
      args.push(value);
    };
    if (q.teams !== null) add('tm.name IN (SELECT value FROM json_each(?))', JSON.stringify([...q.teams]));
    if (q.team !== undefined) add('tm.name = ?', q.team);
    if (q.machine !== undefined) add('t.machine_name = ?', q.machine);
    if (q.batchId !== undefined) add('t.batch_id = ?', q.batchId);
    if (q.status !== undefined) add('t.status = ?', q.status);
    if (q.since !== undefined) add('t.created_at >= ?', q.since);
    if (q.beforeSeq !== undefined) add('t.seq < ?', q.beforeSeq);
    const candidates = this.st
      .get(
        `SELECT t.seq, t.output_bytes AS bytes FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE ${where.join(' AND ')} ORDER BY t.seq DESC LIMIT ?`,
      )
      .all(...args, q.maxTasks + 1) as { seq: number; bytes: number }[];
    const window = cutToBudget(candidates, q.maxTasks, q.maxBytes);
    const find = this.st.get(
      `SELECT t.seq, t.task_id AS taskId, tm.name AS team, t.machine_name AS machine, t.status,
         t.created_at AS createdAt, o.id AS chunkId, o.attempt, o.stream, o.at, o.data
       FROM output_chunks o JOIN tasks t ON t.seq = o.task_seq JOIN teams tm ON tm.id = t.team_id
       WHERE o.task_seq IN (SELECT value FROM json_each(?)) AND instr(lower(o.data), lower(?)) > 0
       ORDER BY o.task_seq DESC, o.id LIMIT ?`,
    );
    // SQLite holds the whole process while it reads: the window is read a slice at a time, newest
    // first, and other requests run between slices. Output stored meanwhile may be read too.
    const hits: OutputSearchHit[] = [];
    for (const [i, seqs] of sliceWindow(candidates, window.seqs.length, SEARCH_SLICE_BYTES).entries()) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      hits.push(...(find.all(JSON.stringify(seqs), q.text, q.limit + 1 - hits.length) as OutputSearchHit[]));
      if (hits.length > q.limit) break;
    }
    return {
      hits: hits.slice(0, q.limit),
      scannedTasks: window.seqs.length,
      scannedBytes: window.bytes,
      nextBeforeSeq: window.nextBeforeSeq,
      truncated: hits.length > q.limit,
    };
  }

  async machineTaskSummary(
    machine: string,
    team: string,
    recent: number,
    windowTasks: number,
  ): Promise<MachineTaskSummary> {
    return this.st.db.transaction(() => {
      const counts: Partial<Record<TaskStatus, number>> = {};
      // The machine's newest tasks through tasks_machine (machine_name, seq), read backwards.
      const rows = this.st
        .get(
          `SELECT w.status, COUNT(*) AS n, MIN(w.created_at) AS since FROM (
             SELECT t.status, t.created_at FROM tasks t
             WHERE t.machine_name = ? AND t.team_id = (SELECT id FROM teams WHERE name = ?)
             ORDER BY t.seq DESC LIMIT ?) w
           GROUP BY w.status`,
        )
        .all(machine, team, windowTasks) as { status: TaskStatus; n: number; since: number }[];
      for (const r of rows) counts[r.status] = r.n;
      const last = this.st
        .get(
          `SELECT t.status, t.exit_code AS exitCode, t.reason, t.started_at AS startedAt, t.finished_at AS finishedAt
           FROM tasks t JOIN teams tm ON tm.id = t.team_id
           WHERE t.machine_name = ? AND tm.name = ? AND t.finished_at IS NOT NULL ORDER BY t.seq DESC LIMIT ?`,
        )
        .all(machine, team, recent) as MachineTaskSummary['recent'];
      return {
        counts,
        counted: rows.reduce((a, r) => a + r.n, 0),
        countedSince: rows.length === 0 ? null : Math.min(...rows.map((r) => r.since)),
        recent: last,
      };
    })();
  }
}
