import { AppError, conflict, notFound } from '../../core/errors.js';
import type { Assignment, FailureReason, Priority, TaskStatus } from '../../core/types.js';
import { type AttemptEnd, outcomeOfAttempt } from '../../scheduler/transitions.js';
import { noteAttempt } from '../attempt-events.js';
import { CounterDelta, MachineDelta } from '../counters.js';
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
import type { Statements } from './connection.js';
import { SqliteClaim } from './sqlite-claim.js';
import { storeOutput } from './sqlite-output.js';

const _PRIORITIES: readonly Priority[] = [1, 2, 3, 4, 5];

interface LiveRow {
  seq: number;
  task_id: string;
  team_id: number;
  region_name: string;
  machine_id: number | null;
  machine_name: string;
  status: TaskStatus;
  priority: number;
  attempts: number;
  attempt_limit: number;
  retry_delay_s: number;
  backoff: 'fixed' | 'exponential';
  failure_action: 'alert' | 'none';
  bridge_id: number | null;
  output_bytes: number;
  output_capped: number;
  batch_id: string | null;
  queued_at: number;
  retry_count: number;
}

const LIVE_SELECT = `SELECT t.seq, t.task_id, t.team_id, r.name AS region_name, t.machine_id, t.machine_name, t.status,
  t.priority, t.attempts, t.attempt_limit, t.retry_delay_s, t.backoff, t.failure_action, t.bridge_id,
  t.output_bytes, t.output_capped, t.batch_id, t.queued_at, t.retry_count
  FROM tasks t JOIN regions r ON r.id = t.region_id`;

/** One unit of work's bookkeeping: counters, machine slots, bridges, events. */
class Changes {
  readonly counters = new CounterDelta();
  readonly machines = new MachineDelta();
  readonly bridges = new Map<number, number>();
  readonly summary: TransitionSummary = { tasks: [], alerts: 0 };

  move(row: LiveRow, to: TaskStatus): void {
    this.counters.move(row.team_id, row.priority, row.status, to);
    this.machines.move(row.machine_id, row.status, to);
    this.summary.tasks.push({ taskId: row.task_id, status: to, region: row.region_name });
  }

  bridgeRunning(bridgeId: number | null, n: number): void {
    if (bridgeId !== null) this.bridges.set(bridgeId, (this.bridges.get(bridgeId) ?? 0) + n);
  }
}

/** The queue's writes on SQLite; every public method is one transaction. */
export class SqliteQueue {
  private readonly claimer: SqliteClaim;

  constructor(private readonly st: Statements) {
    this.claimer = new SqliteClaim(st);
  }

  private tx<T>(fn: () => T): T {
    return this.st.db.transaction(fn).immediate();
  }

  private flush(ch: Changes): void {
    const counter = this.st.get(
      `INSERT INTO queue_counters (team_id, priority, status, n) VALUES (?, ?, ?, ?)
       ON CONFLICT (team_id, priority, status) DO UPDATE SET n = n + excluded.n`,
    );
    for (const c of ch.counters.entries()) counter.run(c.teamId, c.priority, c.status, c.n);
    const machine = this.st.get(
      'UPDATE machines SET running_count = running_count + ?, pending_count = pending_count + ? WHERE id = ?',
    );
    for (const m of ch.machines.entries()) machine.run(m.running, m.pending, m.machineId);
    const bridge = this.st.get('UPDATE bridges SET running_count = MAX(0, running_count + ?) WHERE id = ?');
    for (const [id, n] of ch.bridges) if (n !== 0) bridge.run(n, id);
  }

  insertTasks(
    tasks: readonly NewTask[],
    now: number,
    limits?: BatchLimits,
    idempotency?: IdempotencyRecord,
  ): void {
    this.tx(() => {
      if (idempotency !== undefined) {
        const r = this.st
          .get(
            `INSERT INTO idempotency_keys (key, actor, response, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (actor, key) DO NOTHING`,
          )
          .run(idempotency.key, idempotency.actor, idempotency.response, now);
        if (r.changes === 0)
          throw new AppError('IDEMPOTENT_REPLAY', 'this Idempotency-Key was used before', 409);
      }
      if (limits !== undefined) {
        this.st
          .get('INSERT INTO batch_limits (batch_id, max_running, max_failures) VALUES (?, ?, ?)')
          .run(limits.batchId, limits.maxRunning, limits.maxFailures);
      }
      const findMachine = this.st.get('SELECT id, team_id, region_id FROM machines WHERE name = ?');
      const insert = this.st.get(
        `INSERT INTO tasks (task_id, batch_id, team_id, region_id, machine_id, machine_name, status, priority, command,
           env, secret_env, retry_count, retry_delay_s, backoff, failure_action, timeout_s, attempt_limit, created_at,
           queued_at, created_by, selector)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const findTeam = this.st.get('SELECT id FROM teams WHERE name = ?');
      const findRegion = this.st.get('SELECT id FROM regions WHERE name = ?');
      const machines = new Map<string, { id: number; team_id: number; region_id: number }>();
      const ch = new Changes();
      tasks.forEach((t, index) => {
        let m = machines.get(t.machine);
        if (t.selector !== undefined) {
          const team = findTeam.get(t.selector.team) as { id: number } | undefined;
          const region = findRegion.get(t.selector.region) as { id: number } | undefined;
          if (team === undefined || region === undefined) {
            throw new AppError(
              'TEAM_NOT_FOUND',
              `team '${t.selector.team}' or region '${t.selector.region}' does not exist`,
              404,
            );
          }
          m = { id: null as unknown as number, team_id: team.id, region_id: region.id };
        } else if (m === undefined) {
          m = findMachine.get(t.machine) as typeof m;
          if (m === undefined) {
            throw new AppError('MACHINE_NOT_FOUND', `machine '${t.machine}' does not exist`, 404, {
              field: tasks.length > 1 ? `tasks[${index}].machine` : 'machine',
            });
          }
          machines.set(t.machine, m);
        }
        insert.run(
          t.taskId,
          t.batchId,
          m.team_id,
          m.region_id,
          t.selector === undefined ? m.id : null,
          t.machine,
          t.priority,
          t.command,
          JSON.stringify(t.env),
          JSON.stringify(t.secretEnv),
          t.retryCount,
          t.retryDelaySeconds,
          t.backoff,
          t.failureAction,
          t.timeoutSeconds,
          1 + t.retryCount,
          now,
          now,
          t.createdBy,
          t.selector === undefined ? null : JSON.stringify(t.selector.labels),
        );
        ch.counters.move(m.team_id, t.priority, null, 'pending');
        if (t.selector === undefined) ch.machines.move(m.id, null, 'pending');
      });
      this.flush(ch);
    });
  }

  claim(req: ClaimRequest): Assignment[] {
    return this.tx(() => {
      const ch = new Changes();
      const out = this.claimer.claim(req, ch.counters, ch.machines);
      for (const a of out) if (!a.replayed) ch.bridgeRunning(a.bridgeId, 1);
      this.flush(ch);
      return out.map((a) => a.assignment);
    });
  }

  report(r: BridgeReport): ReportOutcome {
    return this.tx(() => {
      const bridge = this.st.get('SELECT id FROM bridges WHERE name = ?').get(r.bridge) as
        | { id: number }
        | undefined;
      if (bridge === undefined) throw notFound('BRIDGE_NOT_FOUND', `bridge '${r.bridge}' is not registered`);
      this.st.get('UPDATE bridges SET last_seen_at = ? WHERE id = ?').run(r.now, bridge.id);
      const ch = new Changes();
      const rows = new Map<string, LiveRow | null>();
      const live = (taskId: string): LiveRow | null => {
        if (!rows.has(taskId)) {
          rows.set(
            taskId,
            (this.st.get(`${LIVE_SELECT} WHERE t.task_id = ?`).get(taskId) as LiveRow | undefined) ?? null,
          );
        }
        return rows.get(taskId) ?? null;
      };
      const ours = (row: LiveRow | null, attempt: number): row is LiveRow =>
        row !== null &&
        row.attempts === attempt &&
        row.bridge_id === bridge.id &&
        (row.status === 'assigned' || row.status === 'running' || row.status === 'cancelling');

      for (const s of r.started) {
        const row = live(s.taskId);
        if (!ours(row, s.attempt)) continue;
        this.st
          .get('UPDATE attempts SET started_at = ? WHERE task_seq = ? AND attempt = ? AND started_at IS NULL')
          .run(s.at, row.seq, s.attempt);
        if (row.status === 'assigned') {
          this.st
            .get(`UPDATE tasks SET status = 'running', started_at = COALESCE(started_at, ?) WHERE seq = ?`)
            .run(s.at, row.seq);
          ch.move(row, 'running');
          row.status = 'running';
          // The first start since the task entered the queue: its wait, for metrics.
          if (row.attempts === row.attempt_limit - row.retry_count) {
            noteAttempt(ch.summary, {
              teamId: row.team_id,
              priority: row.priority,
              waitMs: Math.max(0, s.at - row.queued_at),
            });
          }
        }
      }

      const stored = storeOutput(this.st, r, live, ours);

      for (const res of r.results) {
        const row = live(res.taskId);
        if (!ours(row, res.attempt)) continue;
        this.endAttempt(row, res, res.at, ch, r.random);
        ch.bridgeRunning(bridge.id, -1);
      }

      const cancel: { taskId: string; attempt: number }[] = [];
      const extend = this.st.get(
        `UPDATE tasks SET lease_expires_at = ? WHERE task_id = ? AND attempts = ? AND bridge_id = ?
         AND status IN ('assigned', 'running', 'cancelling')`,
      );
      for (const run of r.running) {
        if (extend.run(r.now + r.leaseMs, run.taskId, run.attempt, bridge.id).changes === 0) cancel.push(run);
      }
      this.flush(ch);
      for (const c of this.cancelsById(bridge.id)) {
        if (!cancel.some((x) => x.taskId === c.taskId)) cancel.push(c);
      }
      return { cancel, stored, changes: ch.summary };
    });
  }

  private endAttempt(row: LiveRow, end: AttemptEnd, at: number, ch: Changes, random?: () => number): void {
    const out = outcomeOfAttempt(
      row.status,
      {
        attempt: row.attempts,
        attemptLimit: row.attempt_limit,
        retryDelaySeconds: row.retry_delay_s,
        backoff: row.backoff,
        failureAction: row.failure_action,
      },
      end,
      at,
      random,
    );
    const final = out.status !== 'retrying';
    this.st
      .get(
        `UPDATE tasks SET status = ?, exit_code = ?, signal = ?, reason = ?, finished_at = ?, retry_at = ?,
         lease_expires_at = NULL WHERE seq = ?`,
      )
      .run(out.status, end.exitCode, end.signal, out.reason, final ? at : null, out.retryAt, row.seq);
    const ended = this.st
      .get(
        `UPDATE attempts SET status = ?, finished_at = ?, exit_code = ?, signal = ?, reason = ?
         WHERE task_seq = ? AND attempt = ? RETURNING started_at`,
      )
      .get(out.attemptStatus, at, end.exitCode, end.signal, out.reason, row.seq, row.attempts) as
      | { started_at: number | null }
      | undefined;
    const startedAt = ended?.started_at ?? null;
    noteAttempt(ch.summary, {
      teamId: row.team_id,
      priority: row.priority,
      ended: {
        status: out.attemptStatus,
        reason: out.reason,
        runMs: startedAt === null ? null : Math.max(0, at - startedAt),
      },
    });
    if (out.reason === 'HOST_KEY_MISMATCH') {
      this.st
        .get(
          `INSERT INTO alerts (team_id, kind, task_id, machine_name, message, created_at)
           VALUES (?, 'host_key_mismatch', ?, ?, ?, ?)`,
        )
        .run(
          row.team_id,
          row.task_id,
          row.machine_name,
          `machine ${row.machine_name} presented a host key other than the pinned one; nothing ran`,
          at,
        );
      ch.summary.alerts += 1;
    }
    if (out.alert) {
      this.st
        .get(
          `INSERT INTO alerts (team_id, kind, task_id, machine_name, message, created_at)
           VALUES (?, 'task_failed', ?, ?, ?, ?)`,
        )
        .run(row.team_id, row.task_id, row.machine_name, failureMessage(row, out.reason, end), at);
      ch.summary.alerts += 1;
    }
    const halted =
      row.batch_id !== null && this.batchAttemptEnded(row.batch_id, out.status === 'failed', at, ch);
    if (halted && out.status === 'retrying') {
      // A halted rollout starts nothing more, retries of attempts that were running at the halt included.
      this.st
        .get(
          `UPDATE tasks SET status = 'cancelled', reason = 'ROLLOUT_HALTED', finished_at = ?, retry_at = NULL
           WHERE seq = ?`,
        )
        .run(at, row.seq);
      ch.move(row, 'cancelled');
      row.status = 'cancelled';
      return;
    }
    ch.move(row, out.status);
    row.status = out.status;
  }

  /**
   * Keeps a rolling fan-out's counts; past its failure limit the rest of the batch is cancelled.
   * True when the batch is halted (now or before).
   */
  private batchAttemptEnded(batchId: string, failed: boolean, at: number, ch: Changes): boolean {
    const limits = this.st
      .get(
        `UPDATE batch_limits SET running = MAX(0, running - 1), failed = failed + ? WHERE batch_id = ?
         RETURNING max_failures, failed, halted_at`,
      )
      .get(failed ? 1 : 0, batchId) as
      | { max_failures: number | null; failed: number; halted_at: number | null }
      | undefined;
    if (limits === undefined || limits.max_failures === null) return false;
    if (limits.halted_at !== null) return true;
    if (limits.failed <= limits.max_failures) return false;
    this.st.get('UPDATE batch_limits SET halted_at = ? WHERE batch_id = ?').run(at, batchId);
    const waiting = this.st
      .get(`${LIVE_SELECT} WHERE t.batch_id = ? AND t.status IN ('pending', 'retrying')`)
      .all(batchId) as LiveRow[];
    const halt = this.st.get(
      `UPDATE tasks SET status = 'cancelled', reason = 'ROLLOUT_HALTED', finished_at = ?, retry_at = NULL WHERE seq = ?`,
    );
    for (const w of waiting) {
      halt.run(at, w.seq);
      ch.move(w, 'cancelled');
    }
    return true;
  }

  private cancelsById(bridgeId: number): { taskId: string; attempt: number }[] {
    return this.st
      .get(
        `SELECT task_id AS taskId, attempts AS attempt FROM tasks WHERE status = 'cancelling' AND bridge_id = ?`,
      )
      .all(bridgeId) as { taskId: string; attempt: number }[];
  }

  cancelsFor(bridgeName: string): { taskId: string; attempt: number }[] {
    const bridge = this.st.get('SELECT id FROM bridges WHERE name = ?').get(bridgeName) as
      | { id: number }
      | undefined;
    return bridge === undefined ? [] : this.cancelsById(bridge.id);
  }

  cancelTask(taskId: string, now: number): Omit<CancelResult, 'task'> {
    return this.tx(() => {
      const row = this.st.get(`${LIVE_SELECT} WHERE t.task_id = ?`).get(taskId) as LiveRow | undefined;
      if (row === undefined) throw notFound('TASK_NOT_FOUND', `task ${taskId} does not exist`);
      const ch = new Changes();
      let bridge: string | null = null;
      if (row.status === 'pending' || row.status === 'retrying') {
        this.st
          .get(
            `UPDATE tasks SET status = 'cancelled', reason = 'CANCELLED', finished_at = ?, retry_at = NULL WHERE seq = ?`,
          )
          .run(now, row.seq);
        ch.move(row, 'cancelled');
      } else if (row.status === 'assigned' || row.status === 'running' || row.status === 'cancelling') {
        if (row.status !== 'cancelling') {
          this.st.get(`UPDATE tasks SET status = 'cancelling' WHERE seq = ?`).run(row.seq);
          ch.move(row, 'cancelling');
        }
        const b = this.st.get('SELECT name FROM bridges WHERE id = ?').get(row.bridge_id) as
          | { name: string }
          | undefined;
        bridge = b?.name ?? null;
      } else {
        throw conflict('TASK_FINISHED', `task ${taskId} has already ended (${row.status})`);
      }
      this.flush(ch);
      return { bridge, region: row.region_name };
    });
  }

  requeueTask(taskId: string, now: number): void {
    this.tx(() => {
      const row = this.st.get(`${LIVE_SELECT} WHERE t.task_id = ?`).get(taskId) as LiveRow | undefined;
      if (row === undefined) throw notFound('TASK_NOT_FOUND', `task ${taskId} does not exist`);
      if (row.status !== 'failed' && row.status !== 'cancelled' && row.status !== 'completed') {
        throw conflict(
          'TASK_NOT_FINISHED',
          `task ${taskId} is still ${row.status}; only ended tasks can be retried`,
        );
      }
      if (
        row.machine_id === null ||
        this.st.get('SELECT 1 FROM machines WHERE id = ?').get(row.machine_id) === undefined
      ) {
        throw conflict('MACHINE_GONE', `machine '${row.machine_name}' of task ${taskId} no longer exists`);
      }
      this.st
        .get(
          `UPDATE tasks SET status = 'pending', attempt_limit = attempts + 1 + retry_count, exit_code = NULL,
           signal = NULL, reason = NULL, finished_at = NULL, retry_at = NULL, bridge_id = NULL, queued_at = ?
           WHERE seq = ?`,
        )
        .run(now, row.seq);
      const ch = new Changes();
      ch.move(row, 'pending');
      this.flush(ch);
    });
  }

  expireLeases(now: number, random?: () => number): TransitionSummary {
    return this.tx(() => {
      const rows = this.st
        .get(
          `${LIVE_SELECT} WHERE t.status IN ('assigned', 'running', 'cancelling') AND t.lease_expires_at <= ?
           ORDER BY t.lease_expires_at LIMIT 1000`,
        )
        .all(now) as LiveRow[];
      const ch = new Changes();
      for (const row of rows) {
        const bridgeId = row.bridge_id;
        this.endAttempt(
          row,
          { exitCode: null, signal: null, reason: 'LOST' satisfies FailureReason },
          now,
          ch,
          random,
        );
        ch.bridgeRunning(bridgeId, -1);
      }
      this.flush(ch);
      return ch.summary;
    });
  }

  promoteDueRetries(now: number): TransitionSummary & { nextDueAt: number | null } {
    return this.tx(() => {
      const rows = this.st
        .get(`${LIVE_SELECT} WHERE t.status = 'retrying' AND t.retry_at <= ? ORDER BY t.retry_at LIMIT 5000`)
        .all(now) as LiveRow[];
      const promote = this.st.get(`UPDATE tasks SET status = 'pending', retry_at = NULL WHERE seq = ?`);
      const ch = new Changes();
      for (const row of rows) {
        promote.run(row.seq);
        ch.move(row, 'pending');
      }
      this.flush(ch);
      const next = this.st.get(`SELECT MIN(retry_at) AS due FROM tasks WHERE status = 'retrying'`).get() as {
        due: number | null;
      };
      return { ...ch.summary, nextDueAt: next.due };
    });
  }
}

function failureMessage(row: LiveRow, reason: FailureReason | null, end: AttemptEnd): string {
  const how =
    end.exitCode !== null
      ? `exit code ${end.exitCode}`
      : end.signal !== null
        ? `signal ${end.signal}`
        : reason;
  return `task ${row.task_id} on ${row.machine_name} failed after ${row.attempts} attempt(s): ${reason} (${how})`;
}
