import type {
  Alert,
  Assignment,
  Attempt,
  Backoff,
  Bridge,
  FailureAction,
  FailureReason,
  Machine,
  OutputStream,
  Priority,
  QueueStats,
  Region,
  Task,
  TaskStatus,
  Team,
  Transport,
} from '../core/types.js';
import type { HistoryStore } from './history-store.js';
import type { InsightStore } from './insight-store.js';
import type { NotifyStore } from './notify-store.js';
import type { ScheduleStore } from './schedule-store.js';
import type { WebStore } from './web-store.js';

/**
 * Everything persistent goes through this interface. It exposes no
 * connection or transaction type: each method is one atomic unit of work, and
 * adapters own their connections. Every method that depends on the clock
 * takes `now` (ms since the epoch) so tests control time and dialects agree.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly identity: IdentityStore;
  readonly vault: VaultStore;
  readonly audit: AuditStore;
  readonly fleet: FleetStore;
  /** Notification channels, alert rules and the delivery outbox (src/store/notify-store.ts). */
  readonly notify: NotifyStore;
  /** Recurring schedules (src/store/schedule-store.ts). */
  readonly schedules: ScheduleStore;
  /** Dashboard sessions and counts (src/store/web-store.ts). */
  readonly web: WebStore;
  /** Batches, output search and machine histories for the dashboard (src/store/insight-store.ts). */
  readonly insights: InsightStore;
  /** The queue's history per minute, earlier run times of a command on a machine (src/store/history-store.ts). */
  readonly history: HistoryStore;
  migrate(): Promise<void>;
  close(): Promise<void>;

  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;

  createUser(input: { email: string; isAdmin: boolean; now: number }): Promise<User>;
  getUserByEmail(email: string): Promise<User | null>;
  createToken(input: NewToken): Promise<void>;
  /** The live (not revoked, not expired) token of an enabled user or bridge with this hash, if any. */
  findToken(hash: string, now: number): Promise<TokenRecord | null>;

  createTeam(name: string, now: number): Promise<Team>;
  listTeams(): Promise<Team[]>;
  getTeam(name: string): Promise<Team | null>;
  deleteTeam(name: string): Promise<void>;

  ensureRegion(name: string, now: number): Promise<Region>;
  listRegions(): Promise<Region[]>;

  upsertBridge(name: string, region: string, now: number): Promise<Bridge>;
  getBridge(name: string): Promise<Bridge | null>;
  listBridges(): Promise<Bridge[]>;

  createMachine(input: NewMachine, now: number): Promise<Machine>;
  getMachine(name: string): Promise<Machine | null>;
  listMachines(filter: {
    team?: string;
    region?: string;
    teams?: ReadonlySet<string> | null;
  }): Promise<Machine[]>;
  updateMachine(name: string, patch: MachinePatch, now: number): Promise<Machine>;
  deleteMachine(name: string): Promise<void>;

  /** Inserts all tasks in one transaction: all of them or none. */
  insertTasks(
    tasks: readonly NewTask[],
    now: number,
    limits?: BatchLimits,
    idempotency?: IdempotencyRecord,
  ): Promise<void>;
  /** The stored answer of an earlier create with this key by this actor, if any. */
  getIdempotent(actor: string, key: string): Promise<string | null>;
  getTask(taskId: string): Promise<Task | null>;
  getAttempts(taskId: string): Promise<Attempt[]>;
  listTasks(filter: TaskFilter): Promise<Task[]>;
  batchCounts(
    batchId: string,
    teams: ReadonlySet<string> | null,
  ): Promise<Partial<Record<TaskStatus, number>>>;
  /** Cancels a task: at once if it waits, via its bridge if it runs. */
  cancelTask(taskId: string, now: number): Promise<CancelResult>;
  /** Puts a finished task back in the queue for a new round of attempts. */
  requeueTask(taskId: string, now: number): Promise<Task>;

  claim(request: ClaimRequest): Promise<Assignment[]>;
  report(report: BridgeReport): Promise<ReportOutcome>;
  /** Tasks of this bridge whose cancellation it has to carry out. */
  cancelsFor(bridgeName: string): Promise<{ taskId: string; attempt: number }[]>;
  /** Ends attempts whose lease ran out as `lost`; returns what changed. */
  expireLeases(now: number, random?: () => number): Promise<TransitionSummary>;
  /** Moves retrying tasks whose delay is over back to pending. */
  promoteDueRetries(now: number): Promise<TransitionSummary & { nextDueAt: number | null }>;

  listOutput(taskId: string, afterId: number, limit: number): Promise<OutputChunk[]>;
  /** Ended tasks whose output is older than `finishedBefore` and not yet archived, oldest first. */
  archiveCandidates(
    finishedBefore: number,
    limit: number,
  ): Promise<{ taskId: string; team: string; machine: string; finishedAt: number }[]>;
  /** Deletes a task's stored output and records where it was archived, at once. */
  markOutputArchived(taskId: string, location: string): Promise<void>;
  /**
   * Forgets what nothing needs any more: idempotency keys created before
   * `idempotencyBefore`; alerts raised before `alertsBefore` with their ended
   * deliveries (an alert with a delivery still under way stays).
   */
  pruneHistory(
    idempotencyBefore: number,
    alertsBefore: number,
  ): Promise<{ idempotencyKeys: number; alerts: number }>;
  listAlerts(filter: { team?: string; teams?: ReadonlySet<string> | null; limit: number }): Promise<Alert[]>;
  /** Counters of the given teams (null: all). */
  queueStats(
    now: number,
    teams?: ReadonlySet<string> | null,
    options?: { busiest?: number },
  ): Promise<QueueStats>;
}

export interface User {
  id: number;
  email: string;
  isAdmin: boolean;
  createdAt: number;
}

export interface NewToken {
  hash: string;
  kind: 'user' | 'bridge';
  name: string;
  userId: number | null;
  bridgeName: string | null;
  now: number;
  expiresAt: number | null;
  /** Narrows the token: 'metrics' may only scrape GET /metrics. Absent or null: the owner's rights. */
  scope?: TokenScope | null;
}

export type TokenScope = 'metrics';

export interface TokenRecord {
  kind: 'user' | 'bridge';
  name: string;
  userId: number | null;
  userEmail: string | null;
  isAdmin: boolean;
  bridgeName: string | null;
  bridgeRegion: string | null;
  /** null: the owner's rights. */
  scope?: TokenScope | null;
}

export interface NewMachine {
  name: string;
  team: string;
  region: string;
  transport: Transport;
  concurrency: number;
  labels: Record<string, string>;
  host: string | null;
  port: number | null;
  user: string | null;
  /** Pinned SSH host key; null: recorded on the first connection. */
  hostKey?: string | null;
}

export type MachinePatch = Partial<
  Pick<NewMachine, 'concurrency' | 'labels' | 'region' | 'host' | 'port' | 'user' | 'hostKey'>
>;

export interface NewTask {
  taskId: string;
  batchId: string | null;
  /** The machine, or '' with `selector` set: the machine is picked when a slot frees. */
  machine: string;
  selector?: { team: string; region: string; labels: Record<string, string> };
  priority: Priority;
  command: string;
  env: Record<string, string>;
  /** Environment variables filled from the team vault by the bridge: name → vault key. */
  secretEnv: Record<string, string>;
  retryCount: number;
  retryDelaySeconds: number;
  backoff: Backoff;
  failureAction: FailureAction;
  timeoutSeconds: number | null;
  createdBy: string | null;
}

export interface TaskFilter {
  status?: TaskStatus;
  machine?: string;
  priority?: Priority;
  team?: string;
  batchId?: string;
  /** Only tasks of these teams (null or absent: all). */
  teams?: ReadonlySet<string> | null;
  /** Only tasks older than this seq (pagination, newest first). */
  beforeSeq?: number;
  /** Case-insensitive text in the command, or the start of the task id. */
  text?: string;
  limit: number;
}

export interface CancelResult {
  task: Task;
  /** Set when a bridge must kill a running command. */
  bridge: string | null;
  region: string;
}

export interface ClaimRequest {
  bridge: string;
  region: string;
  max: number;
  now: number;
  leaseMs: number;
  agingIntervalMs: number;
  criticalReserve: number;
  /**
   * The bridge's name for this claim request. A bridge that got no answer asks
   * again with the same id and gets back what the lost answer held (still
   * unstarted), so a replica dying mid-claim loses no task.
   */
  claimId?: string | null;
}

export interface BridgeReport {
  bridge: string;
  now: number;
  leaseMs: number;
  outputCapBytes: number;
  started: { taskId: string; attempt: number; at: number }[];
  output: {
    taskId: string;
    attempt: number;
    chunk: number;
    stream: OutputStream;
    at: number;
    data: string;
  }[];
  results: {
    taskId: string;
    attempt: number;
    at: number;
    exitCode: number | null;
    signal: string | null;
    reason: FailureReason | null;
  }[];
  /** Attempts the bridge still runs; their leases are extended. */
  running: { taskId: string; attempt: number }[];
  random?: () => number;
}

export interface ReportOutcome {
  /** Attempts the bridge must stop: cancelled, or no longer its own. */
  cancel: { taskId: string; attempt: number }[];
  /** Output rows stored, for live followers. */
  stored: { taskId: string; chunk: OutputChunk }[];
  changes: TransitionSummary;
}

export interface TransitionSummary {
  /** Tasks that reached a final state or a new one, for events. */
  tasks: { taskId: string; status: TaskStatus; region: string }[];
  alerts: number;
  /** Attempts that started or ended in this unit of work, for metrics (absent: none). */
  attempts?: AttemptEvent[];
}

/**
 * An attempt that started (`waitMs` set) or ended (`ended` set). `waitMs` is
 * the time from the task entering the queue (created, or retried by hand) to
 * its first start since; a start after an automatic retry has none.
 */
export interface AttemptEvent {
  teamId: number;
  priority: number;
  waitMs?: number;
  ended?: {
    status: 'completed' | 'failed' | 'cancelled' | 'lost';
    reason: FailureReason | null;
    runMs: number | null;
  };
}

export interface OutputChunk {
  id: number;
  attempt: number;
  stream: OutputStream;
  at: number;
  data: string;
}

export type TeamRole = 'maintainer' | 'operator' | 'viewer';

export interface UserAuth extends User {
  disabled: boolean;
  passwordHash: string | null;
  setupTokenHash: string | null;
  setupExpiresAt: number | null;
}

export interface UserSummary extends User {
  disabled: boolean;
  hasPassword: boolean;
  teams: { team: string; role: TeamRole }[];
}

export interface TokenSummary {
  id: number;
  name: string;
  kind: 'user' | 'bridge';
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  scope?: TokenScope | null;
}

/** Users, their tokens and team memberships. */
export interface IdentityStore {
  getUserAuth(email: string): Promise<UserAuth | null>;
  setPassword(userId: number, passwordHash: string): Promise<void>;
  setSetupToken(userId: number, hash: string | null, expiresAt: number | null): Promise<void>;
  listUsers(): Promise<UserSummary[]>;
  updateUser(email: string, patch: { disabled?: boolean; isAdmin?: boolean }): Promise<UserSummary>;
  listTokens(userId: number): Promise<TokenSummary[]>;
  /** Revokes a token of `userId` by id or name; false when there is none. */
  revokeToken(userId: number, idOrName: string, now: number): Promise<boolean>;
  /** Revokes every live token of a bridge (before it gets a new one). */
  revokeBridgeTokens(bridgeName: string, now: number): Promise<void>;
  membershipsOf(userId: number): Promise<Map<string, TeamRole>>;
  addMember(team: string, email: string, role: TeamRole, now: number): Promise<void>;
  removeMember(team: string, email: string): Promise<void>;
  listMembers(team: string): Promise<{ email: string; role: TeamRole; addedAt: number }[]>;
}

export interface VaultMaster {
  /** JSON text: the key derivation's algorithm and parameters (salt included). */
  kdf: string;
  /** JSON text: a known text encrypted with the derived key. */
  verifier: string;
}

export interface SecretRecord {
  name: string;
  version: number;
  ciphertext: string;
  updatedBy: string;
  updatedAt: number;
}

/** Ciphertext only: the control plane never sees a master password, a key or a value. */
export interface VaultStore {
  getMaster(): Promise<VaultMaster | null>;
  /** Sets the master record once; a second call is a conflict. */
  initMaster(master: VaultMaster, now: number): Promise<void>;
  /** Replaces the master record and every team key at once; the set of teams must match. */
  changeMaster(
    master: VaultMaster,
    teamKeys: { team: string; wrapped: string }[],
    now: number,
  ): Promise<void>;
  listTeamKeys(): Promise<{ team: string; wrapped: string }[]>;
  getTeamKey(team: string): Promise<string | null>;
  createTeamKey(team: string, wrapped: string, now: number): Promise<void>;
  listSecrets(team: string): Promise<Omit<SecretRecord, 'ciphertext'>[]>;
  getSecret(team: string, name: string): Promise<SecretRecord | null>;
  /** Writes version `expectedVersion + 1`; 0 creates. Another version there is a conflict. */
  putSecret(
    team: string,
    name: string,
    ciphertext: string,
    expectedVersion: number,
    by: string,
    now: number,
  ): Promise<number>;
  deleteSecret(team: string, name: string): Promise<void>;
}

export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target: string | null;
  team: string | null;
  source: string | null;
  outcome: 'ok' | 'denied' | 'failed';
  details: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  team?: string;
  since?: number;
  until?: number;
  /** Exact target, or with a trailing `*` every target that starts with the rest. */
  target?: string;
  afterId?: number;
  /** Newest first, from below this id (the dashboard's paging); afterId is then ignored. */
  beforeId?: number;
  newestFirst?: boolean;
  limit: number;
}

/** The append-only, hash-chained audit log. */
export interface AuditStore {
  append(entries: readonly AuditEntry[]): Promise<void>;
  /** Oldest first, from `afterId`. */
  list(filter: AuditFilter): Promise<AuditRecord[]>;
  /** The newest record's id and hash as written alongside it, to notice a removed tail. */
  head(): Promise<{ id: number; hash: string } | null>;
}

export interface HealthReport {
  machine: string;
  at: number;
  ok: boolean;
  error: string | null;
  cpuPercent: number | null;
  load1: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  diskUsedBytes: number | null;
  diskTotalBytes: number | null;
}

export interface HealthPoint {
  minute: number;
  cpuPercent: number | null;
  load1: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  diskUsedBytes: number | null;
  diskTotalBytes: number | null;
}

/** Machine health and SSH details kept for the bridges. */
export interface FleetStore {
  /** Pins a machine's host key if none is pinned yet; false when another key is pinned. */
  pinHostKey(machine: string, hostKey: string, now: number): Promise<boolean>;
  /** Latest values and one sample per minute; returns machines whose status changed. */
  recordHealth(
    reports: readonly HealthReport[],
    now: number,
  ): Promise<{ machine: string; team: string; status: 'online' }[]>;
  /** Machines unreachable for longer than `offlineAfterMs` turn offline (with an alert); returns them. */
  markOffline(
    now: number,
    offlineAfterMs: number,
  ): Promise<{ machine: string; team: string; region: string }[]>;
  healthHistory(machine: string, sinceMinute: number): Promise<HealthPoint[]>;
  /** Drops history older than `beforeMinute`. */
  pruneHealth(beforeMinute: number): Promise<void>;
  setKeyCreatedAt(machine: string, at: number): Promise<void>;
  /** null: no limit. */
  setMaxKeyAge(team: string, days: number | null): Promise<void>;
  getMaxKeyAge(team: string): Promise<number | null>;
  /** Alerts once per key for SSH keys older than their team's maximum age; returns the machines. */
  alertOldKeys(now: number): Promise<string[]>;
}

/** A rolling fan-out: how many of the batch's tasks run at once, and how many may fail before the rest is cancelled. */
export interface BatchLimits {
  batchId: string;
  maxRunning: number | null;
  maxFailures: number | null;
}

/** Stored with the tasks it created, in the same transaction; a second insert with the key fails with IDEMPOTENT_REPLAY. */
export interface IdempotencyRecord {
  actor: string;
  key: string;
  response: string;
}
