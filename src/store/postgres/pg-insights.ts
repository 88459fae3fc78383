import type { OutputStream, TaskStatus } from '../../core/types.js';
import {
  type BatchCountRow,
  cutToBudget,
  OUTPUT_CAP_NOTE,
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
  /** Most stored output one search reads (it runs on the database, not in the server's thread). */
  readonly searchMaxBytes = 64 * 1024 * 1024;

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
    maxTasks: number,
    tailChars: number,
  ): Promise<{ total: number; tails: FailedTail[] }> {
    if (teams !== null && teams.size === 0) return { total: 0, tails: [] };
    const failed = `FROM tasks t JOIN teams tm ON tm.id = t.team_id
       WHERE t.batch_id = $1 AND t.status = 'failed' AND ($2::text[] IS NULL OR tm.name = ANY($2::text[]))`;
    return this.db.tx(async (db) => {
      const [count] = await db.rows<{ n: string }>(`SELECT COUNT(*) AS n ${failed}`, [
        batchId,
        teamList(teams),
      ]);
      // One indexed look-up of one chunk per listed task (LATERAL … LIMIT 1 over output_by_task).
      const rows = await db.rows<{
        taskId: string;
        machine: string;
        team: string;
        exitCode: number | null;
        signal: string | null;
        reason: string | null;
        archive: string | null;
        stream: OutputStream | null;
        data: Buffer | null;
      }>(
        `WITH f AS (
           SELECT t.seq, t.attempts, t.task_id, t.machine_name, tm.name AS team, t.exit_code, t.signal,
             t.reason, t.output_archive ${failed} ORDER BY t.seq LIMIT $3)
         SELECT f.task_id AS "taskId", f.machine_name AS machine, f.team, f.exit_code AS "exitCode",
           f.signal, f.reason, f.output_archive AS archive, c.stream,
           substring(c.data FROM greatest(1, length(c.data) - $4 + 1)) AS data
         FROM f LEFT JOIN LATERAL (
           SELECT o.stream, o.data FROM output_chunks o
           WHERE o.task_seq = f.seq AND o.attempt = f.attempts AND NOT (o.stream = 'system' AND o.data = $5)
           ORDER BY o.id DESC LIMIT 1
         ) c ON true
         ORDER BY f.seq`,
        [batchId, teamList(teams), maxTasks, tailChars, Buffer.from(OUTPUT_CAP_NOTE, 'utf8')],
      );
      const tails = rows.map((r) => ({
        taskId: r.taskId,
        machine: r.machine,
        team: r.team,
        exitCode: r.exitCode,
        signal: r.signal,
        reason: r.reason,
        archived: r.archive !== null,
        tail:
          r.stream === null || r.data === null ? [] : [{ stream: r.stream, data: r.data.toString('utf8') }],
      }));
      return { total: Number(count?.n ?? 0), tails };
    });
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

  async machineTaskSummary(
    machine: string,
    team: string,
    recent: number,
    windowTasks: number,
  ): Promise<MachineTaskSummary> {
    return this.db.tx(async (db) => {
      const counts: Partial<Record<TaskStatus, number>> = {};
      // The machine's newest tasks through tasks_machine (machine_name, seq), read backwards.
      const rows = await db.rows<{ status: TaskStatus; n: string; since: string }>(
        `SELECT w.status, COUNT(*) AS n, MIN(w.created_at) AS since FROM (
           SELECT t.status, t.created_at FROM tasks t
           WHERE t.machine_name = $1 AND t.team_id = (SELECT id FROM teams WHERE name = $2)
           ORDER BY t.seq DESC LIMIT $3) w
         GROUP BY w.status`,
        [machine, team, windowTasks],
      );
      for (const r of rows) counts[r.status] = Number(r.n);
      const last = await db.rows<MachineTaskSummary['recent'][number]>(
        `SELECT t.status, t.exit_code AS "exitCode", t.reason, t.started_at AS "startedAt",
           t.finished_at AS "finishedAt"
         FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.machine_name = $1 AND tm.name = $2 AND t.finished_at IS NOT NULL ORDER BY t.seq DESC LIMIT $3`,
        [machine, team, recent],
      );
      return {
        counts,
        counted: rows.reduce((a, r) => a + Number(r.n), 0),
        countedSince: rows.length === 0 ? null : Math.min(...rows.map((r) => Number(r.since))),
        recent: last,
      };
    });
  }
}
