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
import { PgAudit } from './pg-audit.js';
import { PgDb, type PgPoolOptions } from './pg-connection.js';
import { PgFleet } from './pg-fleet.js';
import { PgHistory } from './pg-history.js';
import { PgIdentity } from './pg-identity.js';
import { PgInsights } from './pg-insights.js';
import { ensureRegion, PgMachines } from './pg-machines.js';
import { migrate } from './pg-migrations.js';
import { PgNotify } from './pg-notify.js';
import { PgQueue } from './pg-queue.js';
import { PgReads } from './pg-reads.js';
import { type BridgeRow, type TeamRow, toBridge, toTeam, uniqueOr } from './pg-rows.js';
import { PgSchedules } from './pg-schedules.js';
import { PgVault } from './pg-vault.js';
import { PgWeb } from './pg-web.js';

export type PostgresStoreOptions = PgPoolOptions;

const BRIDGE_SELECT = `SELECT b.id, b.name, r.name AS region_name, b.last_seen_at, b.running_count AS running, b.created_at
  FROM bridges b JOIN regions r ON r.id = b.region_id`;

/**
 * The shared store: one PostgreSQL database that several server replicas use
 * at once. The adapter owns its connection pool; every method is one
 * transaction on one pooled client, and a lost database is STORE_UNAVAILABLE (503).
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly identity: PgIdentity;
  readonly vault: PgVault;
  readonly audit: PgAudit;
  readonly fleet: PgFleet;
  readonly notify: PgNotify;
  readonly schedules: PgSchedules;
  readonly web: PgWeb;
  readonly insights: PgInsights;
  readonly history: PgHistory;
  private readonly db: PgDb;
  private readonly queue: PgQueue;
  private readonly reads: PgReads;
  private readonly machines: PgMachines;

  /** `connectionString`: a libpq URL, e.g. `postgres://rediacc@db.internal:5432/rediacc`. */
  constructor(connectionString: string, options: PostgresStoreOptions = {}) {
    this.db = new PgDb(connectionString, options);
    this.queue = new PgQueue(this.db);
    this.reads = new PgReads(this.db);
    this.machines = new PgMachines(this.db);
    this.identity = new PgIdentity(this.db);
    this.vault = new PgVault(this.db);
    this.audit = new PgAudit(this.db);
    this.fleet = new PgFleet(this.db);
    this.notify = new PgNotify(this.db);
    this.schedules = new PgSchedules(this.db);
    this.web = new PgWeb(this.db);
    this.insights = new PgInsights(this.db);
    this.history = new PgHistory(this.db);
  }

  async migrate(): Promise<void> {
    await migrate(this.db);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async getMeta(key: string): Promise<string | null> {
    return (
      (await this.db.one<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]))?.value ?? null
    );
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db.run(
      'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  async createUser(input: { email: string; isAdmin: boolean; now: number }): Promise<User> {
    const r = await this.db.tx(async (q) => {
      try {
        return (await q.one<{ id: number }>(
          'INSERT INTO users (email, is_admin, created_at) VALUES ($1, $2, $3) RETURNING id',
          [input.email, input.isAdmin, input.now],
        )) as { id: number };
      } catch (err) {
        throw uniqueOr(err, conflict('USER_EXISTS', `user '${input.email}' already exists`));
      }
    });
    return { id: r.id, email: input.email, isAdmin: input.isAdmin, createdAt: input.now };
  }

  async getUserByEmail(email: string): Promise<User | null> {
    const r = await this.db.one<{ id: number; email: string; is_admin: boolean; created_at: number }>(
      'SELECT id, email, is_admin, created_at FROM users WHERE email = $1',
      [email],
    );
    return r === undefined
      ? null
      : { id: r.id, email: r.email, isAdmin: r.is_admin, createdAt: r.created_at };
  }

  async createToken(t: NewToken): Promise<void> {
    await this.db.run(
      `INSERT INTO tokens (hash, kind, name, user_id, bridge_id, created_at, expires_at, scope)
       VALUES ($1, $2, $3, $4, (SELECT id FROM bridges WHERE name = $5), $6, $7, $8)`,
      [t.hash, t.kind, t.name, t.userId, t.bridgeName, t.now, t.expiresAt, t.scope ?? null],
    );
  }

  async findToken(hash: string, now: number): Promise<TokenRecord | null> {
    const r = await this.db.one<{
      kind: 'user' | 'bridge';
      name: string;
      user_id: number | null;
      email: string | null;
      is_admin: boolean | null;
      disabled: boolean | null;
      bridge_name: string | null;
      region_name: string | null;
      scope: TokenScope | null;
    }>(
      `SELECT t.kind, t.name, t.user_id, u.email, u.is_admin, u.disabled, b.name AS bridge_name, r.name AS region_name,
         t.scope
       FROM tokens t LEFT JOIN users u ON u.id = t.user_id LEFT JOIN bridges b ON b.id = t.bridge_id
       LEFT JOIN regions r ON r.id = b.region_id
       WHERE t.hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)`,
      [hash, now],
    );
    if (r === undefined || r.disabled === true) return null;
    return {
      kind: r.kind,
      name: r.name,
      userId: r.user_id,
      userEmail: r.email,
      isAdmin: r.is_admin === true,
      bridgeName: r.bridge_name,
      bridgeRegion: r.region_name,
      scope: r.scope,
    };
  }

  async createTeam(name: string, now: number): Promise<Team> {
    return this.db.tx(async (q) => {
      try {
        const r = (await q.one<{ id: number }>(
          'INSERT INTO teams (name, created_at) VALUES ($1, $2) RETURNING id',
          [name, now],
        )) as { id: number };
        return { id: r.id, name, createdAt: now };
      } catch (err) {
        throw uniqueOr(err, conflict('TEAM_EXISTS', `team '${name}' already exists`));
      }
    });
  }

  async listTeams(): Promise<Team[]> {
    return (await this.db.rows<TeamRow>('SELECT id, name, created_at FROM teams ORDER BY name')).map(toTeam);
  }

  async getTeam(name: string): Promise<Team | null> {
    const r = await this.db.one<TeamRow>('SELECT id, name, created_at FROM teams WHERE name = $1', [name]);
    return r === undefined ? null : toTeam(r);
  }

  async deleteTeam(name: string): Promise<void> {
    await this.db.tx(async (q) => {
      // Locked: a machine or task created for the team meanwhile waits, and is then seen here.
      const team = await q.one<{ id: number }>('SELECT id FROM teams WHERE name = $1 FOR UPDATE', [name]);
      if (team === undefined) throw notFound('TEAM_NOT_FOUND', `team '${name}' does not exist`);
      if ((await q.one('SELECT 1 FROM machines WHERE team_id = $1 LIMIT 1', [team.id])) !== undefined) {
        throw conflict('TEAM_NOT_EMPTY', `team '${name}' still owns machines; delete or move them first`);
      }
      if ((await q.one('SELECT 1 FROM tasks WHERE team_id = $1 LIMIT 1', [team.id])) !== undefined) {
        throw conflict('TEAM_NOT_EMPTY', `team '${name}' has task history and cannot be deleted`);
      }
      await q.run('DELETE FROM queue_counters WHERE team_id = $1', [team.id]);
      await q.run('DELETE FROM teams WHERE id = $1', [team.id]);
    });
  }

  async ensureRegion(name: string, now: number): Promise<Region> {
    return this.db.tx((q) => ensureRegion(q, name, now));
  }

  async listRegions(): Promise<Region[]> {
    return (await this.db.rows<TeamRow>('SELECT id, name, created_at FROM regions ORDER BY name')).map(
      toTeam,
    );
  }

  async upsertBridge(name: string, region: string, now: number): Promise<Bridge> {
    return this.db.tx(async (q) => {
      const r = await q.one<{ id: number }>('SELECT id FROM regions WHERE name = $1', [region]);
      if (r === undefined) throw notFound('REGION_NOT_FOUND', `region '${region}' does not exist`);
      await q.run(
        `INSERT INTO bridges (name, region_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET region_id = excluded.region_id`,
        [name, r.id, now],
      );
      return toBridge((await q.one<BridgeRow>(`${BRIDGE_SELECT} WHERE b.name = $1`, [name])) as BridgeRow);
    });
  }

  async getBridge(name: string): Promise<Bridge | null> {
    const r = await this.db.one<BridgeRow>(`${BRIDGE_SELECT} WHERE b.name = $1`, [name]);
    return r === undefined ? null : toBridge(r);
  }

  async listBridges(): Promise<Bridge[]> {
    return (await this.db.rows<BridgeRow>(`${BRIDGE_SELECT} ORDER BY b.name`)).map(toBridge);
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

  async insertTasks(
    tasks: readonly NewTask[],
    now: number,
    limits?: BatchLimits,
    idempotency?: IdempotencyRecord,
  ): Promise<void> {
    await this.queue.insertTasks(tasks, now, limits, idempotency);
  }

  async getIdempotent(actor: string, key: string): Promise<string | null> {
    const r = await this.db.one<{ response: string }>(
      'SELECT response FROM idempotency_keys WHERE actor = $1 AND key = $2',
      [actor, key],
    );
    return r?.response ?? null;
  }

  getTask(taskId: string): Promise<Task | null> {
    return this.reads.getTask(taskId);
  }

  getAttempts(taskId: string): Promise<Attempt[]> {
    return this.reads.getAttempts(taskId);
  }

  listTasks(f: TaskFilter): Promise<Task[]> {
    return this.reads.listTasks(f);
  }

  batchCounts(
    batchId: string,
    teams: ReadonlySet<string> | null,
  ): Promise<Partial<Record<TaskStatus, number>>> {
    return this.reads.batchCounts(batchId, teams);
  }

  cancelTask(taskId: string, now: number): Promise<CancelResult> {
    return this.queue.cancelTask(taskId, now);
  }

  requeueTask(taskId: string, now: number): Promise<Task> {
    return this.queue.requeueTask(taskId, now);
  }

  claim(request: ClaimRequest): Promise<Assignment[]> {
    return this.queue.claim(request);
  }

  report(report: BridgeReport): Promise<ReportOutcome> {
    return this.queue.report(report);
  }

  cancelsFor(bridgeName: string): Promise<{ taskId: string; attempt: number }[]> {
    return this.queue.cancelsFor(bridgeName);
  }

  expireLeases(now: number, random?: () => number): Promise<TransitionSummary> {
    return this.queue.expireLeases(now, random);
  }

  promoteDueRetries(now: number): Promise<TransitionSummary & { nextDueAt: number | null }> {
    return this.queue.promoteDueRetries(now);
  }

  listOutput(taskId: string, afterId: number, limit: number): Promise<OutputChunk[]> {
    return this.reads.listOutput(taskId, afterId, limit);
  }

  archiveCandidates(
    finishedBefore: number,
    limit: number,
  ): Promise<{ taskId: string; team: string; machine: string; finishedAt: number }[]> {
    return this.reads.archiveCandidates(finishedBefore, limit);
  }

  pruneHistory(
    idempotencyBefore: number,
    alertsBefore: number,
  ): Promise<{ idempotencyKeys: number; alerts: number }> {
    return this.db.tx(async (q) => {
      const keys = await q.rows('DELETE FROM idempotency_keys WHERE created_at < $1 RETURNING 1', [
        idempotencyBefore,
      ]);
      await q.run(
        `DELETE FROM alert_deliveries WHERE status IN ('sent', 'failed')
         AND alert_id IN (SELECT id FROM alerts WHERE created_at < $1)`,
        [alertsBefore],
      );
      const alerts = await q.rows(
        `DELETE FROM alerts a WHERE a.created_at < $1 AND a.fanned_out_at IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id) RETURNING 1`,
        [alertsBefore],
      );
      return { idempotencyKeys: keys.length, alerts: alerts.length };
    });
  }

  markOutputArchived(taskId: string, location: string): Promise<void> {
    return this.reads.markOutputArchived(taskId, location);
  }

  listAlerts(filter: { team?: string; teams?: ReadonlySet<string> | null; limit: number }): Promise<Alert[]> {
    return this.reads.listAlerts(filter);
  }

  queueStats(
    now: number,
    teams: ReadonlySet<string> | null = null,
    options: { busiest?: number } = {},
  ): Promise<QueueStats> {
    return this.reads.queueStats(now, teams, options);
  }
}
