import { conflict, notFound } from '../../core/errors.js';
import type {
  Alert,
  Assignment,
  Attempt,
  Bridge,
  Machine,
  QueueStats,
  Region,
  Task,
  TaskStatus,
  Team,
} from '../../core/types.js';
import type {
  BatchLimits,
  BridgeReport,
  CancelResult,
  ClaimRequest,
  IdempotencyRecord,
  MachinePatch,
  NewMachine,
  NewTask,
  NewToken,
  OutputChunk,
  ReportOutcome,
  Store,
  TaskFilter,
  TokenRecord,
  TokenScope,
  TransitionSummary,
  User,
} from '../store.js';
import { type Db, migrate, openDatabase, Statements } from './connection.js';
import {
  type AlertRow,
  type AttemptRow,
  type BridgeRow,
  TASK_COLUMNS,
  TASK_FROM,
  type TaskRow,
  toAlert,
  toAttempt,
  toBridge,
  toTask,
} from './rows.js';
import { SqliteAudit } from './sqlite-audit.js';
import { SqliteFleet } from './sqlite-fleet.js';
import { SqliteHistory } from './sqlite-history.js';
import { SqliteIdentity } from './sqlite-identity.js';
import { SqliteInsights } from './sqlite-insights.js';
import { SqliteMachines } from './sqlite-machines.js';
import { SqliteNotify } from './sqlite-notify.js';
import { SqliteQueue } from './sqlite-queue.js';
import { SqliteSchedules } from './sqlite-schedules.js';
import { SqliteVault } from './sqlite-vault.js';
import { SqliteWeb } from './sqlite-web.js';
import { inTeams, uniqueOr } from './util.js';

const BRIDGE_SELECT = `SELECT b.id, b.name, r.name AS region_name, b.last_seen_at, b.running_count AS running, b.created_at
  FROM bridges b JOIN regions r ON r.id = b.region_id`;

/** The embedded store: one SQLite file in WAL mode, used by one server process. */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly identity: SqliteIdentity;
  readonly vault: SqliteVault;
  readonly audit: SqliteAudit;
  readonly fleet: SqliteFleet;
  readonly notify: SqliteNotify;
  readonly schedules: SqliteSchedules;
  readonly web: SqliteWeb;
  readonly insights: SqliteInsights;
  readonly history: SqliteHistory;
  private readonly db: Db;
  private readonly st: Statements;
  private readonly queue: SqliteQueue;
  private readonly machines: SqliteMachines;

  constructor(path: string) {
    this.db = openDatabase(path);
    this.st = new Statements(this.db);
    this.queue = new SqliteQueue(this.st);
    this.machines = new SqliteMachines(this.st, (name, now) => this.ensureRegion(name, now));
    this.identity = new SqliteIdentity(this.st);
    this.vault = new SqliteVault(this.st);
    this.audit = new SqliteAudit(this.st);
    this.fleet = new SqliteFleet(this.st);
    this.notify = new SqliteNotify(this.st);
    this.schedules = new SqliteSchedules(this.st);
    this.web = new SqliteWeb(this.st);
    this.insights = new SqliteInsights(this.st);
    this.history = new SqliteHistory(this.st);
  }

  async migrate(): Promise<void> {
    migrate(this.db);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async getMeta(key: string): Promise<string | null> {
    const row = this.st.get('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.st
      .get(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  async createUser(input: { email: string; isAdmin: boolean; now: number }): Promise<User> {
    try {
      const r = this.st
        .get('INSERT INTO users (email, is_admin, created_at) VALUES (?, ?, ?) RETURNING id')
        .get(input.email, input.isAdmin ? 1 : 0, input.now) as { id: number };
      return { id: r.id, email: input.email, isAdmin: input.isAdmin, createdAt: input.now };
    } catch (err) {
      throw uniqueOr(err, conflict('USER_EXISTS', `user '${input.email}' already exists`));
    }
  }

  async getUserByEmail(email: string): Promise<User | null> {
    const r = this.st.get('SELECT id, email, is_admin, created_at FROM users WHERE email = ?').get(email) as
      | { id: number; email: string; is_admin: number; created_at: number }
      | undefined;
    return r === undefined
      ? null
      : { id: r.id, email: r.email, isAdmin: r.is_admin === 1, createdAt: r.created_at };
  }

  async createToken(t: NewToken): Promise<void> {
    const bridgeId =
      t.bridgeName === null
        ? null
        : ((
            this.st.get('SELECT id FROM bridges WHERE name = ?').get(t.bridgeName) as
              | { id: number }
              | undefined
          )?.id ?? null);
    this.st
      .get(
        `INSERT INTO tokens (hash, kind, name, user_id, bridge_id, created_at, expires_at, scope)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(t.hash, t.kind, t.name, t.userId, bridgeId, t.now, t.expiresAt, t.scope ?? null);
  }

  async findToken(hash: string, now: number): Promise<TokenRecord | null> {
    const r = this.st
      .get(
        `SELECT t.kind, t.name, t.user_id, u.email, u.is_admin, u.disabled, b.name AS bridge_name, r.name AS region_name,
           t.scope
         FROM tokens t LEFT JOIN users u ON u.id = t.user_id LEFT JOIN bridges b ON b.id = t.bridge_id
         LEFT JOIN regions r ON r.id = b.region_id
         WHERE t.hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`,
      )
      .get(hash, now) as
      | {
          kind: 'user' | 'bridge';
          name: string;
          user_id: number | null;
          email: string | null;
          is_admin: number | null;
          disabled: number | null;
          bridge_name: string | null;
          region_name: string | null;
          scope: TokenScope | null;
        }
      | undefined;
    if (r === undefined || r.disabled === 1) return null;
    return {
      kind: r.kind,
      name: r.name,
      userId: r.user_id,
      userEmail: r.email,
      isAdmin: r.is_admin === 1,
      bridgeName: r.bridge_name,
      bridgeRegion: r.region_name,
      scope: r.scope,
    };
  }

  async createTeam(name: string, now: number): Promise<Team> {
    try {
      const r = this.st
        .get('INSERT INTO teams (name, created_at) VALUES (?, ?) RETURNING id')
        .get(name, now) as {
        id: number;
      };
      return { id: r.id, name, createdAt: now };
    } catch (err) {
      throw uniqueOr(err, conflict('TEAM_EXISTS', `team '${name}' already exists`));
    }
  }

  async listTeams(): Promise<Team[]> {
    return (this.st.get('SELECT id, name, created_at FROM teams ORDER BY name').all() as TeamRow[]).map(
      toTeam,
    );
  }

  async getTeam(name: string): Promise<Team | null> {
    const r = this.st.get('SELECT id, name, created_at FROM teams WHERE name = ?').get(name) as
      | TeamRow
      | undefined;
    return r === undefined ? null : toTeam(r);
  }

  async deleteTeam(name: string): Promise<void> {
    this.db
      .transaction(() => {
        const team = this.st.get('SELECT id FROM teams WHERE name = ?').get(name) as
          | { id: number }
          | undefined;
        if (team === undefined) throw notFound('TEAM_NOT_FOUND', `team '${name}' does not exist`);
        if (this.st.get('SELECT 1 FROM machines WHERE team_id = ? LIMIT 1').get(team.id) !== undefined) {
          throw conflict('TEAM_NOT_EMPTY', `team '${name}' still owns machines; delete or move them first`);
        }
        if (this.st.get('SELECT 1 FROM tasks WHERE team_id = ? LIMIT 1').get(team.id) !== undefined) {
          throw conflict('TEAM_NOT_EMPTY', `team '${name}' has task history and cannot be deleted`);
        }
        this.st.get('DELETE FROM queue_counters WHERE team_id = ?').run(team.id);
        this.st.get('DELETE FROM teams WHERE id = ?').run(team.id);
      })
      .immediate();
  }

  async ensureRegion(name: string, now: number): Promise<Region> {
    this.st
      .get('INSERT INTO regions (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING')
      .run(name, now);
    const r = this.st.get('SELECT id, name, created_at FROM regions WHERE name = ?').get(name) as TeamRow;
    return toTeam(r);
  }

  async listRegions(): Promise<Region[]> {
    return (this.st.get('SELECT id, name, created_at FROM regions ORDER BY name').all() as TeamRow[]).map(
      toTeam,
    );
  }

  async upsertBridge(name: string, region: string, now: number): Promise<Bridge> {
    this.db
      .transaction(() => {
        const r = this.st.get('SELECT id FROM regions WHERE name = ?').get(region) as
          | { id: number }
          | undefined;
        if (r === undefined) throw notFound('REGION_NOT_FOUND', `region '${region}' does not exist`);
        this.st
          .get(
            `INSERT INTO bridges (name, region_id, created_at) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET region_id = excluded.region_id`,
          )
          .run(name, r.id, now);
      })
      .immediate();
    return (await this.getBridge(name)) as Bridge;
  }

  async getBridge(name: string): Promise<Bridge | null> {
    const r = this.st.get(`${BRIDGE_SELECT} WHERE b.name = ?`).get(name) as BridgeRow | undefined;
    return r === undefined ? null : toBridge(r);
  }

  async listBridges(): Promise<Bridge[]> {
    return (this.st.get(`${BRIDGE_SELECT} ORDER BY b.name`).all() as BridgeRow[]).map(toBridge);
  }

  createMachine(m: NewMachine, now: number): Promise<Machine> {
    return this.machines.createMachine(m, now);
  }

  getMachine(name: string): Promise<Machine | null> {
    return this.machines.getMachine(name);
  }

  listMachines(filter: {
    team?: string;
    region?: string;
    teams?: ReadonlySet<string> | null;
  }): Promise<Machine[]> {
    return this.machines.listMachines(filter);
  }

  updateMachine(name: string, patch: MachinePatch, now: number): Promise<Machine> {
    return this.machines.updateMachine(name, patch, now);
  }

  deleteMachine(name: string): Promise<void> {
    return this.machines.deleteMachine(name);
  }

  queueStats(
    now: number,
    teams: ReadonlySet<string> | null = null,
    options: { busiest?: number } = {},
  ): Promise<QueueStats> {
    return this.machines.queueStats(now, teams, options);
  }

  async insertTasks(
    tasks: readonly NewTask[],
    now: number,
    limits?: BatchLimits,
    idempotency?: IdempotencyRecord,
  ): Promise<void> {
    this.queue.insertTasks(tasks, now, limits, idempotency);
  }

  async getIdempotent(actor: string, key: string): Promise<string | null> {
    const r = this.st
      .get('SELECT response FROM idempotency_keys WHERE actor = ? AND key = ?')
      .get(actor, key) as { response: string } | undefined;
    return r?.response ?? null;
  }

  async getTask(taskId: string): Promise<Task | null> {
    const r = this.st.get(`SELECT ${TASK_COLUMNS} FROM ${TASK_FROM} WHERE t.task_id = ?`).get(taskId) as
      | TaskRow
      | undefined;
    return r === undefined ? null : toTask(r);
  }

  async getAttempts(taskId: string): Promise<Attempt[]> {
    const rows = this.st
      .get(
        `SELECT a.attempt, a.status, b.name AS bridge_name, a.assigned_at, a.started_at, a.finished_at, a.exit_code,
           a.signal, a.reason
         FROM attempts a JOIN tasks t ON t.seq = a.task_seq LEFT JOIN bridges b ON b.id = a.bridge_id
         WHERE t.task_id = ? ORDER BY a.attempt`,
      )
      .all(taskId) as AttemptRow[];
    return rows.map(toAttempt);
  }

  async listTasks(f: TaskFilter): Promise<Task[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      where.push(sql);
      args.push(value);
    };
    if (f.status !== undefined) add('t.status = ?', f.status);
    if (f.machine !== undefined) add('t.machine_name = ?', f.machine);
    if (f.priority !== undefined) add('t.priority = ?', f.priority);
    if (f.team !== undefined) add('tm.name = ?', f.team);
    if (f.batchId !== undefined) add('t.batch_id = ?', f.batchId);
    if (f.teams !== undefined && f.teams !== null) {
      if (f.teams.size === 0) return [];
      where.push(`tm.name IN (${[...f.teams].map(() => '?').join(', ')})`);
      args.push(...f.teams);
    }
    if (f.beforeSeq !== undefined) add('t.seq < ?', f.beforeSeq);
    if (f.text !== undefined) {
      where.push('(instr(lower(t.command), lower(?)) > 0 OR substr(t.task_id, 1, length(?)) = lower(?))');
      args.push(f.text, f.text, f.text);
    }
    const sql = `SELECT ${TASK_COLUMNS} FROM ${TASK_FROM} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY t.seq DESC LIMIT ?`;
    return (this.st.get(sql).all(...args, f.limit) as TaskRow[]).map(toTask);
  }

  async batchCounts(
    batchId: string,
    teams: ReadonlySet<string> | null,
  ): Promise<Partial<Record<TaskStatus, number>>> {
    const rows = this.st
      .get(
        `SELECT t.status, tm.name AS team, COUNT(*) AS n FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.batch_id = ? GROUP BY t.status, tm.name`,
      )
      .all(batchId) as { status: TaskStatus; team: string; n: number }[];
    const counts: Partial<Record<TaskStatus, number>> = {};
    for (const r of rows) if (inTeams(r.team, teams)) counts[r.status] = (counts[r.status] ?? 0) + r.n;
    return counts;
  }

  async cancelTask(taskId: string, now: number): Promise<CancelResult> {
    const r = this.queue.cancelTask(taskId, now);
    return { ...r, task: (await this.getTask(taskId)) as Task };
  }

  async requeueTask(taskId: string, now: number): Promise<Task> {
    this.queue.requeueTask(taskId, now);
    return (await this.getTask(taskId)) as Task;
  }

  async claim(request: ClaimRequest): Promise<Assignment[]> {
    return this.queue.claim(request);
  }

  async report(report: BridgeReport): Promise<ReportOutcome> {
    return this.queue.report(report);
  }

  async cancelsFor(bridgeName: string): Promise<{ taskId: string; attempt: number }[]> {
    return this.queue.cancelsFor(bridgeName);
  }

  async expireLeases(now: number, random?: () => number): Promise<TransitionSummary> {
    return this.queue.expireLeases(now, random);
  }

  async promoteDueRetries(now: number): Promise<TransitionSummary & { nextDueAt: number | null }> {
    return this.queue.promoteDueRetries(now);
  }

  async listOutput(taskId: string, afterId: number, limit: number): Promise<OutputChunk[]> {
    return this.st
      .get(
        `SELECT o.id, o.attempt, o.stream, o.at, o.data FROM output_chunks o
         WHERE o.task_seq = (SELECT seq FROM tasks WHERE task_id = ?) AND o.id > ? ORDER BY o.id LIMIT ?`,
      )
      .all(taskId, afterId, limit) as OutputChunk[];
  }

  async archiveCandidates(
    finishedBefore: number,
    limit: number,
  ): Promise<{ taskId: string; team: string; machine: string; finishedAt: number }[]> {
    return this.st
      .get(
        `SELECT t.task_id AS taskId, tm.name AS team, t.machine_name AS machine, t.finished_at AS finishedAt
         FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.finished_at IS NOT NULL AND t.output_archive IS NULL AND t.finished_at < ?
         ORDER BY t.finished_at LIMIT ?`,
      )
      .all(finishedBefore, limit) as { taskId: string; team: string; machine: string; finishedAt: number }[];
  }

  async pruneHistory(
    idempotencyBefore: number,
    alertsBefore: number,
  ): Promise<{ idempotencyKeys: number; alerts: number }> {
    return this.db
      .transaction(() => {
        const keys = this.st.get('DELETE FROM idempotency_keys WHERE created_at < ?').run(idempotencyBefore);
        this.st
          .get(
            `DELETE FROM alert_deliveries WHERE status IN ('sent', 'failed')
             AND alert_id IN (SELECT id FROM alerts WHERE created_at < ?)`,
          )
          .run(alertsBefore);
        const alerts = this.st
          .get(
            `DELETE FROM alerts WHERE created_at < ? AND fanned_out_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = alerts.id)`,
          )
          .run(alertsBefore);
        return { idempotencyKeys: keys.changes, alerts: alerts.changes };
      })
      .immediate();
  }

  async markOutputArchived(taskId: string, location: string): Promise<void> {
    this.db
      .transaction(() => {
        const t = this.st.get('SELECT seq FROM tasks WHERE task_id = ?').get(taskId) as
          | { seq: number }
          | undefined;
        if (t === undefined) return;
        this.st.get('DELETE FROM output_chunks WHERE task_seq = ?').run(t.seq);
        this.st.get('UPDATE tasks SET output_archive = ? WHERE seq = ?').run(location, t.seq);
      })
      .immediate();
  }

  async listAlerts(filter: {
    team?: string;
    teams?: ReadonlySet<string> | null;
    limit: number;
  }): Promise<Alert[]> {
    const rows = this.st
      .get(
        `SELECT a.id, a.kind, tm.name AS team_name, a.task_id, a.machine_name, a.message, a.created_at
         FROM alerts a JOIN teams tm ON tm.id = a.team_id WHERE (? IS NULL OR tm.name = ?) ORDER BY a.id DESC LIMIT ?`,
      )
      .all(filter.team ?? null, filter.team ?? null, filter.limit) as AlertRow[];
    return rows.map(toAlert).filter((a) => inTeams(a.team, filter.teams));
  }
}

interface TeamRow {
  id: number;
  name: string;
  created_at: number;
}

function toTeam(r: TeamRow): Team {
  return { id: r.id, name: r.name, createdAt: r.created_at };
}
