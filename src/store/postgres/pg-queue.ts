import { AppError, conflict, notFound } from '../../core/errors.js';
import type { Assignment, FailureReason, Task } from '../../core/types.js';
import type {
  BatchLimits,
  BridgeReport,
  CancelResult,
  ClaimRequest,
  IdempotencyRecord,
  NewTask,
  ReportOutcome,
  TransitionSummary,
} from '../store.js';
import { Changes, cancelsById, endAttempt, flush, LIVE_SELECT, type LiveRow } from './pg-changes.js';
import { claim } from './pg-claim.js';
import type { PgDb, Q } from './pg-connection.js';
import { report } from './pg-report.js';
import { type PgTaskRow, TASK_COLUMNS, TASK_FROM, toTask } from './pg-rows.js';

const ACTIVE = `('assigned', 'running', 'cancelling')`;

/** The queue's writes on PostgreSQL; every public method is one transaction. */
export class PgQueue {
  constructor(private readonly db: PgDb) {}

  insertTasks(
    tasks: readonly NewTask[],
    now: number,
    limits?: BatchLimits,
    idempotency?: IdempotencyRecord,
  ): Promise<void> {
    return this.db.tx(async (q) => {
      if (idempotency !== undefined) {
        const n = await q.run(
          `INSERT INTO idempotency_keys (key, actor, response, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (actor, key) DO NOTHING`,
          [idempotency.key, idempotency.actor, idempotency.response, now],
        );
        if (n === 0) throw new AppError('IDEMPOTENT_REPLAY', 'this Idempotency-Key was used before', 409);
      }
      if (limits !== undefined) {
        await q.run('INSERT INTO batch_limits (batch_id, max_running, max_failures) VALUES ($1, $2, $3)', [
          limits.batchId,
          limits.maxRunning,
          limits.maxFailures,
        ]);
      }
      const placed = await this.resolve(q, tasks);
      const ch = new Changes();
      const cols = {
        taskId: [] as string[],
        batchId: [] as (string | null)[],
        teamId: [] as number[],
        regionId: [] as number[],
        machineId: [] as (number | null)[],
        machine: [] as string[],
        priority: [] as number[],
        command: [] as string[],
        env: [] as string[],
        secretEnv: [] as string[],
        retryCount: [] as number[],
        retryDelay: [] as number[],
        backoff: [] as string[],
        failureAction: [] as string[],
        timeout: [] as (number | null)[],
        createdBy: [] as (string | null)[],
        selector: [] as (string | null)[],
      };
      tasks.forEach((t, i) => {
        const m = placed[i] as { id: number | null; team_id: number; region_id: number };
        cols.taskId.push(t.taskId);
        cols.batchId.push(t.batchId);
        cols.teamId.push(m.team_id);
        cols.regionId.push(m.region_id);
        cols.machineId.push(m.id);
        cols.machine.push(t.machine);
        cols.priority.push(t.priority);
        cols.command.push(t.command);
        cols.env.push(JSON.stringify(t.env));
        cols.secretEnv.push(JSON.stringify(t.secretEnv));
        cols.retryCount.push(t.retryCount);
        cols.retryDelay.push(t.retryDelaySeconds);
        cols.backoff.push(t.backoff);
        cols.failureAction.push(t.failureAction);
        cols.timeout.push(t.timeoutSeconds);
        cols.createdBy.push(t.createdBy);
        cols.selector.push(t.selector === undefined ? null : JSON.stringify(t.selector.labels));
        ch.counters.move(m.team_id, t.priority, null, 'pending');
        ch.machines.move(m.id, null, 'pending');
      });
      if (tasks.length > 0) {
        // One statement; rows go in in the given order, so seq keeps the order of the batch.
        await q.run(
          `INSERT INTO tasks (task_id, batch_id, team_id, region_id, machine_id, machine_name, status, priority, command,
             env, secret_env, retry_count, retry_delay_s, backoff, failure_action, timeout_s, attempt_limit, created_at,
             queued_at, created_by, selector)
           SELECT d.task_id, d.batch_id, d.team_id, d.region_id, d.machine_id, d.machine_name, 'pending', d.priority,
             d.command, d.env, d.secret_env, d.retry_count, d.retry_delay_s, d.backoff, d.failure_action, d.timeout_s,
             1 + d.retry_count, $18, $18, d.created_by, d.selector
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::smallint[],
             $8::text[], $9::text[], $10::text[], $11::int[], $12::float8[], $13::text[], $14::text[], $15::float8[],
             $16::text[], $17::text[])
             WITH ORDINALITY AS d(task_id, batch_id, team_id, region_id, machine_id, machine_name, priority, command,
               env, secret_env, retry_count, retry_delay_s, backoff, failure_action, timeout_s, created_by, selector, ord)
           ORDER BY d.ord`,
          [...Object.values(cols), now],
        );
      }
      await flush(q, ch);
    });
  }

  /** Team and region (and machine) of each new task, in order; the first unknown one fails the batch. */
  private async resolve(
    q: Q,
    tasks: readonly NewTask[],
  ): Promise<{ id: number | null; team_id: number; region_id: number }[]> {
    const names = [...new Set(tasks.filter((t) => t.selector === undefined).map((t) => t.machine))];
    // KEY SHARE: a machine (or team) cannot be deleted while tasks are being added to it.
    const machines = new Map(
      (
        await q.rows<{ id: number; name: string; team_id: number; region_id: number }>(
          'SELECT id, name, team_id, region_id FROM machines WHERE name = ANY($1::text[]) ORDER BY id FOR KEY SHARE',
          [names],
        )
      ).map((m) => [m.name, m]),
    );
    const selectors = tasks.flatMap((t) => (t.selector === undefined ? [] : [t.selector]));
    const teams = new Map<string, number>();
    const regions = new Map<string, number>();
    if (selectors.length > 0) {
      for (const r of await q.rows<{ id: number; name: string }>(
        'SELECT id, name FROM teams WHERE name = ANY($1::text[]) ORDER BY id FOR KEY SHARE',
        [[...new Set(selectors.map((s) => s.team))]],
      ))
        teams.set(r.name, r.id);
      for (const r of await q.rows<{ id: number; name: string }>(
        'SELECT id, name FROM regions WHERE name = ANY($1::text[])',
        [[...new Set(selectors.map((s) => s.region))]],
      ))
        regions.set(r.name, r.id);
    }
    return tasks.map((t, index) => {
      if (t.selector !== undefined) {
        const team = teams.get(t.selector.team);
        const region = regions.get(t.selector.region);
        if (team === undefined || region === undefined) {
          throw new AppError(
            'TEAM_NOT_FOUND',
            `team '${t.selector.team}' or region '${t.selector.region}' does not exist`,
            404,
          );
        }
        return { id: null, team_id: team, region_id: region };
      }
      const m = machines.get(t.machine);
      if (m === undefined) {
        throw new AppError('MACHINE_NOT_FOUND', `machine '${t.machine}' does not exist`, 404, {
          field: tasks.length > 1 ? `tasks[${index}].machine` : 'machine',
        });
      }
      return m;
    });
  }

  claim(req: ClaimRequest): Promise<Assignment[]> {
    return this.db.tx((q) => claim(q, req));
  }

  report(r: BridgeReport): Promise<ReportOutcome> {
    return this.db.tx((q) => report(q, r));
  }

  cancelsFor(bridgeName: string): Promise<{ taskId: string; attempt: number }[]> {
    return this.db.tx(async (q) => {
      const bridge = await q.one<{ id: number }>('SELECT id FROM bridges WHERE name = $1', [bridgeName]);
      return bridge === undefined ? [] : cancelsById(q, bridge.id);
    });
  }

  cancelTask(taskId: string, now: number): Promise<CancelResult> {
    return this.db.tx(async (q) => {
      const row = await lockTask(q, taskId);
      const ch = new Changes();
      let bridge: string | null = null;
      if (row.status === 'pending' || row.status === 'retrying') {
        await q.run(
          `UPDATE tasks SET status = 'cancelled', reason = 'CANCELLED', finished_at = $1, retry_at = NULL
           WHERE seq = $2`,
          [now, row.seq],
        );
        ch.move(row, 'cancelled');
      } else if (row.status === 'assigned' || row.status === 'running' || row.status === 'cancelling') {
        if (row.status !== 'cancelling') {
          await q.run(`UPDATE tasks SET status = 'cancelling' WHERE seq = $1`, [row.seq]);
          ch.move(row, 'cancelling');
        }
        const b = await q.one<{ name: string }>('SELECT name FROM bridges WHERE id = $1', [row.bridge_id]);
        bridge = b?.name ?? null;
      } else {
        throw conflict('TASK_FINISHED', `task ${taskId} has already ended (${row.status})`);
      }
      await flush(q, ch);
      return { task: await readTask(q, row.seq), bridge, region: row.region_name };
    });
  }

  requeueTask(taskId: string, now: number): Promise<Task> {
    return this.db.tx(async (q) => {
      const row = await lockTask(q, taskId);
      if (row.status !== 'failed' && row.status !== 'cancelled' && row.status !== 'completed') {
        throw conflict(
          'TASK_NOT_FINISHED',
          `task ${taskId} is still ${row.status}; only ended tasks can be retried`,
        );
      }
      if (
        row.machine_id === null ||
        (await q.one('SELECT 1 FROM machines WHERE id = $1 FOR KEY SHARE', [row.machine_id])) === undefined
      ) {
        throw conflict('MACHINE_GONE', `machine '${row.machine_name}' of task ${taskId} no longer exists`);
      }
      await q.run(
        `UPDATE tasks SET status = 'pending', attempt_limit = attempts + 1 + retry_count, exit_code = NULL,
         signal = NULL, reason = NULL, finished_at = NULL, retry_at = NULL, bridge_id = NULL, queued_at = $1
         WHERE seq = $2`,
        [now, row.seq],
      );
      const ch = new Changes();
      ch.move(row, 'pending');
      await flush(q, ch);
      return readTask(q, row.seq);
    });
  }

  /**
   * Ends attempts whose lease ran out. Rows another unit of work holds (a
   * report extending the lease, another replica's sweep) are skipped: they are
   * handled there or in the next sweep.
   */
  expireLeases(now: number, random?: () => number): Promise<TransitionSummary> {
    return this.db.tx(async (q) => {
      const rows = await q.rows<LiveRow>(
        `${LIVE_SELECT} WHERE t.seq IN (
           SELECT seq FROM tasks WHERE status IN ${ACTIVE} AND lease_expires_at <= $1
           ORDER BY lease_expires_at LIMIT 1000)
         AND t.status IN ${ACTIVE} AND t.lease_expires_at <= $1
         ORDER BY t.seq FOR UPDATE OF t SKIP LOCKED`,
        [now],
      );
      rows.sort((a, b) => (a.lease_expires_at ?? 0) - (b.lease_expires_at ?? 0) || a.seq - b.seq);
      const ch = new Changes();
      for (const row of rows) {
        const bridgeId = row.bridge_id;
        await endAttempt(
          q,
          row,
          { exitCode: null, signal: null, reason: 'LOST' satisfies FailureReason },
          now,
          ch,
          random,
        );
        ch.bridgeRunning(bridgeId, -1);
      }
      await flush(q, ch);
      return ch.summary;
    });
  }

  promoteDueRetries(now: number): Promise<TransitionSummary & { nextDueAt: number | null }> {
    return this.db.tx(async (q) => {
      const rows = await q.rows<LiveRow>(
        `${LIVE_SELECT} WHERE t.seq IN (
           SELECT seq FROM tasks WHERE status = 'retrying' AND retry_at <= $1 ORDER BY retry_at LIMIT 5000)
         AND t.status = 'retrying' AND t.retry_at <= $1
         ORDER BY t.seq FOR UPDATE OF t SKIP LOCKED`,
        [now],
      );
      rows.sort((a, b) => (a.retry_at ?? 0) - (b.retry_at ?? 0) || a.seq - b.seq);
      const ch = new Changes();
      if (rows.length > 0) {
        await q.run(`UPDATE tasks SET status = 'pending', retry_at = NULL WHERE seq = ANY($1::bigint[])`, [
          rows.map((r) => r.seq),
        ]);
      }
      for (const row of rows) ch.move(row, 'pending');
      await flush(q, ch);
      const next = await q.one<{ due: number | null }>(
        `SELECT MIN(retry_at) AS due FROM tasks WHERE status = 'retrying'`,
      );
      return { ...ch.summary, nextDueAt: next?.due ?? null };
    });
  }
}

async function lockTask(q: Q, taskId: string): Promise<LiveRow> {
  const row = await q.one<LiveRow>(`${LIVE_SELECT} WHERE t.task_id = $1 FOR UPDATE OF t`, [taskId]);
  if (row === undefined) throw notFound('TASK_NOT_FOUND', `task ${taskId} does not exist`);
  return row;
}

async function readTask(q: Q, seq: number): Promise<Task> {
  return toTask(
    (await q.one<PgTaskRow>(`SELECT ${TASK_COLUMNS} FROM ${TASK_FROM} WHERE t.seq = $1`, [seq])) as PgTaskRow,
  );
}
