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

/**
 * Everything persistent goes through this interface. It exposes no
 * connection or transaction type: each method is one atomic unit of work, and
 * adapters own their connections. Every method that depends on the clock
 * takes `now` (ms since the epoch) so tests control time and dialects agree.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;

  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;

  createUser(input: { email: string; isAdmin: boolean; now: number }): Promise<User>;
  getUserByEmail(email: string): Promise<User | null>;
  createToken(input: NewToken): Promise<void>;
  /** The live (not revoked, not expired) token with this hash, if any. */
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
  listMachines(filter: { team?: string; region?: string }): Promise<Machine[]>;
  updateMachine(name: string, patch: MachinePatch, now: number): Promise<Machine>;
  deleteMachine(name: string): Promise<void>;

  /** Inserts all tasks in one transaction: all of them or none. */
  insertTasks(tasks: readonly NewTask[], now: number): Promise<void>;
  getTask(taskId: string): Promise<Task | null>;
  getAttempts(taskId: string): Promise<Attempt[]>;
  listTasks(filter: TaskFilter): Promise<Task[]>;
  batchCounts(batchId: string): Promise<Partial<Record<TaskStatus, number>>>;
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
  listAlerts(filter: { team?: string; limit: number }): Promise<Alert[]>;
  queueStats(now: number): Promise<QueueStats>;
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
}

export interface TokenRecord {
  kind: 'user' | 'bridge';
  name: string;
  userId: number | null;
  userEmail: string | null;
  isAdmin: boolean;
  bridgeName: string | null;
  bridgeRegion: string | null;
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
}

export type MachinePatch = Partial<
  Pick<NewMachine, 'concurrency' | 'labels' | 'region' | 'host' | 'port' | 'user'>
>;

export interface NewTask {
  taskId: string;
  batchId: string | null;
  machine: string;
  priority: Priority;
  command: string;
  env: Record<string, string>;
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
  /** Only tasks older than this seq (pagination, newest first). */
  beforeSeq?: number;
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
}

export interface OutputChunk {
  id: number;
  attempt: number;
  stream: OutputStream;
  at: number;
  data: string;
}
