import type { OutputStream, TaskStatus } from '../../core/types.js';
import {
  type BatchCountRow,
  cutToBudget,
  type RerunRow,
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
import type { PgDb } from './pg-connection.js';

const teamList = (teams: ReadonlySet<string> | null) => (teams === null ? null : [...teams]);

/** The dashboard's operator reads on PostgreSQL (see InsightStore). */
export class PgInsights implements InsightStore {
  constructor(private readonly db: PgDb) {}

  async listBatches(f: {
    teams: ReadonlySet<string> | null;
    before?: string;
    limit: number;
  }): Promise<BatchSummary[]> {
    if (f.teams !== null && f.teams.size === 0) return [];
    const rows = await this.db.rows<BatchCountRow>(
      `WITH ids AS (
         SELECT DISTINCT t.batch_id FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.batch_id IS NOT NULL AND ($1::text IS NULL OR t.batch_id < $1)
           AND ($2::text[] IS NULL OR tm.name = ANY($2::text[]))
         ORDER BY t.batch_id DESC LIMIT $3)
       SELECT t.batch_id, t.status, tm.name AS team, COUNT(*) AS n, MIN(t.created_at) AS created_at,
         MIN(t.seq) AS first_seq, MIN(t.command) AS command, COUNT(DISTINCT t.command) AS commands,
         MIN(t.created_by) AS created_by
       FROM tasks t JOIN teams tm ON tm.id = t.team_id
       WHERE t.batch_id IN (SELECT batch_id FROM ids) AND ($2::text[] IS NULL OR tm.name = ANY($2::text[]))
       GROUP BY t.batch_id, t.status, tm.name`,
      [f.before ?? null, teamList(f.teams), f.limit],
    );
    return summariseBatchRows(rows);
  }

  async batchTasks(batchId: string, teams: ReadonlySet<string> | null): Promise<BatchTask[]> {
    if (teams !== null && teams.size === 0) return [];
    return this.db.rows<BatchTask>(
      `SELECT t.seq, t.task_id AS "taskId", t.machine_name AS machine, tm.name AS team, t.status,
         t.exit_code AS "exitCode", t.signal, t.reason, t.attempts, t.started_at AS "startedAt",
         t.finished_at AS "finishedAt"
       FROM tasks t JOIN teams tm ON tm.id = t.team_id
       WHERE t.batch_id = $1 AND ($2::text[] IS NULL OR tm.name = ANY($2::text[])) ORDER BY t.seq`,
      [batchId, teamList(teams)],
    );
  }

  async failedTails(
    batchId: string,
    teams: ReadonlySet<string> | null,
    tailChunks: number,
    tailChars: number,
  ): Promise<FailedTail[]> {
    if (teams !== null && teams.size === 0) return [];
    // One indexed look-up per failed task (LATERAL … LIMIT over output_by_task), newest chunks first.
    const rows = await this.db.rows<{
      seq: number;
      taskId: string;
      machine: string;
      team: string;
      exitCode: number | null;
      signal: string | null;
      reason: string | null;
      archive: string | null;
      id: number | null;
      stream: OutputStream | null;
      data: Buffer | null;
    }>(
      `SELECT t.seq, t.task_id AS "taskId", t.machine_name AS machine, tm.name AS team, t.exit_code AS "exitCode",
         t.signal, t.reason, t.output_archive AS archive, c.id, c.stream,
         substring(c.data FROM greatest(1, length(c.data) - $4 + 1)) AS data
       FROM tasks t JOIN teams tm ON tm.id = t.team_id
       LEFT JOIN LATERAL (
         SELECT o.id, o.stream, o.data FROM output_chunks o
         WHERE o.task_seq = t.seq AND o.attempt = t.attempts ORDER BY o.id DESC LIMIT $3
       ) c ON true
       WHERE t.batch_id = $1 AND t.status = 'failed' AND ($2::text[] IS NULL OR tm.name = ANY($2::text[]))
       ORDER BY t.seq, c.id`,
      [batchId, teamList(teams), tailChunks, tailChars],
    );
    const out = new Map<number, FailedTail>();
    for (const r of rows) {
      let t = out.get(r.seq);
      if (t === undefined) {
        t = {
          taskId: r.taskId,
          machine: r.machine,
          team: r.team,
          exitCode: r.exitCode,
          signal: r.signal,
          reason: r.reason,
          archived: r.archive !== null,
          tail: [],
        };
        out.set(r.seq, t);
      }
      if (r.stream !== null && r.data !== null)
        t.tail.push({ stream: r.stream, data: r.data.toString('utf8') });
    }
    return [...out.values()];
  }

  async failedInputs(batchId: string, teams: ReadonlySet<string> | null): Promise<RerunSource[]> {
    if (teams !== null && teams.size === 0) return [];
    const rows = await this.db.rows<RerunRow>(
      `SELECT t.task_id, t.machine_name, tm.name AS team, t.command, t.priority, t.env, t.secret_env,
         t.retry_count, t.retry_delay_s, t.backoff, t.failure_action, t.timeout_s
       FROM tasks t JOIN teams tm ON tm.id = t.team_id
       WHERE t.batch_id = $1 AND t.status = 'failed' AND ($2::text[] IS NULL OR tm.name = ANY($2::text[]))
       ORDER BY t.seq`,
      [batchId, teamList(teams)],
    );
    return rows.map(toRerunSource);
  }

  async searchOutput(q: OutputSearch): Promise<OutputSearchPage> {
    const empty = { hits: [], scannedTasks: 0, scannedBytes: 0, nextBeforeSeq: null, truncated: false };
    if (q.teams !== null && q.teams.size === 0) return empty;
    const where: string[] = ['t.output_bytes > 0', 't.output_archive IS NULL'];
    const args: unknown[] = [];
    const add = (sql: (p: string) => string, value: unknown) => {
      args.push(value);
      where.push(sql(`$${args.length}`));
    };
    if (q.teams !== null) add((p) => `tm.name = ANY(${p}::text[])`, [...q.teams]);
    if (q.team !== undefined) add((p) => `tm.name = ${p}`, q.team);
    if (q.machine !== undefined) add((p) => `t.machine_name = ${p}`, q.machine);
    if (q.batchId !== undefined) add((p) => `t.batch_id = ${p}`, q.batchId);
    if (q.status !== undefined) add((p) => `t.status = ${p}`, q.status);
    if (q.since !== undefined) add((p) => `t.created_at >= ${p}`, q.since);
    if (q.beforeSeq !== undefined) add((p) => `t.seq < ${p}`, q.beforeSeq);
    return this.db.tx(async (db) => {
      const candidates = await db.rows<{ seq: number; bytes: number }>(
        `SELECT t.seq, t.output_bytes AS bytes FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE ${where.join(' AND ')} ORDER BY t.seq DESC LIMIT $${args.length + 1}`,
        [...args, q.maxTasks + 1],
      );
      const window = cutToBudget(candidates, q.maxTasks, q.maxBytes);
      const result = {
        scannedTasks: window.seqs.length,
        scannedBytes: window.bytes,
        nextBeforeSeq: window.nextBeforeSeq,
      };
      if (window.seqs.length === 0) return { ...result, hits: [], truncated: false };
      // Output is stored as bytes (it may hold NUL): the match runs on its escaped text, where each
      // byte stands for itself or a fixed escape. That finds every match and, rarely, a false one
      // across an escape, which the caller's confirmation drops.
      const rows = await db.rows<Omit<OutputSearchHit, 'data'> & { data: Buffer }>(
        `SELECT t.seq, t.task_id AS "taskId", tm.name AS team, t.machine_name AS machine, t.status,
           t.created_at AS "createdAt", o.id AS "chunkId", o.attempt, o.stream, o.at, o.data
         FROM output_chunks o JOIN tasks t ON t.seq = o.task_seq JOIN teams tm ON tm.id = t.team_id
         WHERE o.task_seq = ANY($1::bigint[])
           AND strpos(lower(encode(o.data, 'escape')), lower(encode(convert_to($2, 'UTF8'), 'escape'))) > 0
         ORDER BY o.task_seq DESC, o.id LIMIT $3`,
        [window.seqs, q.text, q.limit + 1],
      );
      return {
        ...result,
        hits: rows.slice(0, q.limit).map((r) => ({ ...r, data: r.data.toString('utf8') })),
        truncated: rows.length > q.limit,
      };
    });
  }

  async machineTaskSummary(machine: string, team: string, recent: number): Promise<MachineTaskSummary> {
    return this.db.tx(async (db) => {
      const counts: Partial<Record<TaskStatus, number>> = {};
      const rows = await db.rows<{ status: TaskStatus; n: number }>(
        `SELECT t.status, COUNT(*) AS n FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.machine_name = $1 AND tm.name = $2 GROUP BY t.status`,
        [machine, team],
      );
      for (const r of rows) counts[r.status] = Number(r.n);
      const last = await db.rows<MachineTaskSummary['recent'][number]>(
        `SELECT t.status, t.exit_code AS "exitCode", t.reason, t.started_at AS "startedAt",
           t.finished_at AS "finishedAt"
         FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.machine_name = $1 AND tm.name = $2 AND t.finished_at IS NOT NULL ORDER BY t.seq DESC LIMIT $3`,
        [machine, team, recent],
      );
      return { counts, recent: last };
    });
  }
}
