import type { Logger } from 'pino';
import { notFound } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import type { Assignment, Task } from '../core/types.js';
import type { BridgeReport, ReportOutcome, Store, TransitionSummary } from '../store/store.js';
import { type Bus, Listener } from './bus.js';
import type { ServerSettings } from './settings.js';
import { type Authorize, type CreateResult, countOf, TaskExpander, type TaskInput } from './task-expand.js';

export type { Authorize, CreateResult, TaskInput } from './task-expand.js';
export { countOf, VAULT_PREFIX } from './task-expand.js';

/**
 * The task life cycle on the control plane: creating, claiming, reporting,
 * cancelling. It turns store changes into bus events so bridges and live
 * followers hear of them at once.
 */
export class TaskService {
  private readonly expander: TaskExpander;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryTimerAt = Number.POSITIVE_INFINITY;

  constructor(
    readonly store: Store,
    readonly bus: Bus,
    readonly settings: ServerSettings,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.expander = new TaskExpander(store, settings);
  }

  now(): number {
    return this.clock();
  }

  /**
   * Creates tasks in one transaction. `authorize` is asked once per machine
   * with the machine's team; it throws to refuse (404 for a team the caller
   * is not in, 403 for a role too low).
   */
  async create(
    inputs: readonly TaskInput[],
    createdBy: string | null,
    asBatch: boolean,
    authorize: Authorize = () => {},
    rollout: { rolling?: string | number; maxFailures?: string | number; idempotencyKey?: string } = {},
  ): Promise<CreateResult> {
    const idem =
      rollout.idempotencyKey === undefined
        ? undefined
        : { actor: createdBy ?? 'anonymous', key: rollout.idempotencyKey };
    if (idem !== undefined) {
      const prior = await this.store.getIdempotent(idem.actor, idem.key);
      if (prior !== null) return this.replay(prior);
    }
    const { tasks, regions } = await this.expander.expand(inputs, createdBy, asBatch, authorize);
    const rolling = rollout.rolling !== undefined || rollout.maxFailures !== undefined;
    const batchId = asBatch || rolling || tasks.length > 1 ? uuidv7() : null;
    for (const t of tasks) t.batchId = batchId;
    const limits =
      rolling && batchId !== null
        ? {
            batchId,
            maxRunning:
              rollout.rolling === undefined
                ? null
                : Math.max(1, countOf(rollout.rolling, tasks.length, 'rolling', Math.ceil)),
            maxFailures:
              rollout.maxFailures === undefined
                ? null
                : countOf(rollout.maxFailures, tasks.length, 'maxFailures', Math.floor),
          }
        : undefined;
    const single = batchId === null && tasks.length === 1 && !rolling;
    const response = JSON.stringify(
      single
        ? { kind: 'task', taskId: tasks[0]?.taskId }
        : { kind: 'batch', batchId, taskIds: tasks.map((t) => t.taskId) },
    );
    try {
      await this.store.insertTasks(
        tasks,
        this.now(),
        limits,
        idem === undefined ? undefined : { ...idem, response },
      );
    } catch (err) {
      // The same key raced in through another request (or replica): answer what that one created.
      if (idem !== undefined && (err as { code?: string }).code === 'IDEMPOTENT_REPLAY') {
        return this.replay((await this.store.getIdempotent(idem.actor, idem.key)) as string);
      }
      throw err;
    }
    for (const r of regions) this.bus.publish(`region:${r}`, { type: 'wake' });
    if (batchId === null && tasks.length === 1 && !rolling) {
      const task = (await this.store.getTask(tasks[0]!.taskId)) as Task;
      this.log.info({ task: task.taskId, machine: task.machine, team: task.team }, 'task created');
      return { kind: 'task', task };
    }
    this.log.info({ batch: batchId, count: tasks.length }, 'batch created');
    return { kind: 'batch', batchId: batchId as string, taskIds: tasks.map((t) => t.taskId) };
  }

  /** Validates references and turns inputs (with fan-outs) into rows. */
  private async replay(stored: string): Promise<CreateResult> {
    const r = JSON.parse(stored) as
      | { kind: 'task'; taskId: string }
      | { kind: 'batch'; batchId: string; taskIds: string[] };
    if (r.kind === 'task') return { kind: 'task', task: await this.get(r.taskId), replayed: true };
    return { kind: 'batch', batchId: r.batchId, taskIds: r.taskIds, replayed: true };
  }

  async get(taskId: string): Promise<Task> {
    const task = await this.store.getTask(taskId);
    if (task === null) throw notFound('TASK_NOT_FOUND', `task ${taskId} does not exist`);
    return task;
  }

  async cancel(taskId: string): Promise<Task> {
    const r = await this.store.cancelTask(taskId, this.now());
    if (r.bridge !== null) this.bus.publish(`bridge:${r.bridge}`, { type: 'wake' });
    this.bus.publish(`task:${taskId}`, { type: 'status', taskId, status: r.task.status });
    this.log.info({ task: taskId, machine: r.task.machine, team: r.task.team }, 'task cancel requested');
    return r.task;
  }

  async retry(taskId: string): Promise<Task> {
    const task = await this.store.requeueTask(taskId, this.now());
    this.bus.publish(`task:${taskId}`, { type: 'status', taskId, status: task.status });
    const m = await this.store.getMachine(task.machine ?? '');
    if (m !== null) this.bus.publish(`region:${m.region}`, { type: 'wake' });
    this.log.info({ task: taskId, machine: task.machine, team: task.team }, 'task requeued');
    return task;
  }

  /** Claims work for a bridge, waiting up to `waitMs` for some to appear. */
  async claim(
    bridge: string,
    region: string,
    max: number,
    waitMs: number,
    stopping: readonly { taskId: string; attempt: number }[] = [],
    claimId: string | null = null,
    signal?: AbortSignal,
  ): Promise<{ tasks: Assignment[]; cancel: { taskId: string; attempt: number }[] }> {
    const known = new Set(stopping.map((s) => `${s.taskId}#${s.attempt}`));
    const deadline = this.now() + Math.min(waitMs, this.settings.claimWaitMaxMs);
    // Listening before the first look: a wake-up that comes while the store is read is not lost.
    const heard = waitMs > 0 ? new Listener(this.bus, [`region:${region}`, `bridge:${bridge}`]) : null;
    try {
      return await this.claimUntil(bridge, region, max, known, deadline, claimId, heard, signal);
    } finally {
      heard?.close();
    }
  }

  private async claimUntil(
    bridge: string,
    region: string,
    max: number,
    known: ReadonlySet<string>,
    deadline: number,
    claimId: string | null,
    heard: Listener | null,
    signal?: AbortSignal,
  ): Promise<{ tasks: Assignment[]; cancel: { taskId: string; attempt: number }[] }> {
    for (;;) {
      heard?.reset();
      const tasks =
        max > 0
          ? await this.store.claim({
              bridge,
              region,
              max,
              now: this.now(),
              leaseMs: this.settings.leaseMs,
              agingIntervalMs: this.settings.agingIntervalMs,
              criticalReserve: this.settings.criticalReserve,
              claimId,
            })
          : [];
      const cancel = (await this.store.cancelsFor(bridge)).filter(
        (c) => !known.has(`${c.taskId}#${c.attempt}`),
      );
      const left = deadline - this.now();
      if (tasks.length > 0 || cancel.length > 0 || left <= 0 || signal?.aborted || heard === null) {
        for (const t of tasks) {
          this.bus.publish(`task:${t.taskId}`, { type: 'status', taskId: t.taskId, status: 'assigned' });
        }
        return { tasks, cancel };
      }
      await heard.wait(left, signal);
    }
  }

  async report(input: Omit<BridgeReport, 'now' | 'leaseMs' | 'outputCapBytes'>): Promise<ReportOutcome> {
    const outcome = await this.store.report({
      ...input,
      now: this.now(),
      leaseMs: this.settings.leaseMs,
      outputCapBytes: this.settings.outputCapBytes,
    });
    for (const { taskId, chunk } of outcome.stored)
      this.bus.publish(`task:${taskId}`, { type: 'output', taskId, chunk });
    this.announce(outcome.changes);
    return outcome;
  }

  /** Called with every unit of work's changes (metrics); must not throw. */
  readonly observers: ((changes: TransitionSummary) => void)[] = [];

  /** Publishes status changes; a task leaving a slot may let another start. */
  announce(changes: TransitionSummary): void {
    for (const observe of this.observers) observe(changes);
    const regions = new Set<string>();
    let retrying = false;
    for (const t of changes.tasks) {
      this.bus.publish(`task:${t.taskId}`, { type: 'status', taskId: t.taskId, status: t.status });
      if (t.status !== 'running' && t.status !== 'cancelling') regions.add(t.region);
      if (t.status === 'retrying') retrying = true;
      if (t.status === 'failed' || t.status === 'completed' || t.status === 'cancelled') {
        this.log.info({ task: t.taskId, status: t.status }, 'task ended');
      }
    }
    for (const r of regions) this.bus.publish(`region:${r}`, { type: 'wake' });
    if (retrying) void this.promoteDueRetries();
  }

  /** Moves due retries back to the queue and sets a timer for the next one. */
  async promoteDueRetries(): Promise<void> {
    const r = await this.store.promoteDueRetries(this.now());
    if (r.tasks.length > 0) this.announce({ tasks: r.tasks, alerts: 0 });
    if (r.nextDueAt !== null) this.scheduleRetryCheck(r.nextDueAt);
  }

  private scheduleRetryCheck(at: number): void {
    if (at >= this.retryTimerAt) return;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimerAt = at;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.retryTimerAt = Number.POSITIVE_INFINITY;
        this.promoteDueRetries().catch((err: unknown) =>
          this.log.error({ err }, 'promoting due retries failed'),
        );
      },
      Math.max(0, at - this.now()),
    );
    this.retryTimer.unref();
  }

  async expireLeases(): Promise<void> {
    const changes = await this.store.expireLeases(this.now());
    for (const t of changes.tasks)
      this.log.warn({ task: t.taskId, status: t.status }, 'lease expired: attempt lost');
    this.announce(changes);
  }

  stop(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
  }
}
