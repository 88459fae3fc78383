import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError, invalid, notFound } from '../core/errors.js';
import { parsePriority } from '../core/priority.js';
import type { Assignment, Backoff, FailureAction, Task } from '../core/types.js';
import { matchesSelector } from '../scheduler/placement.js';
import type { BridgeReport, NewTask, ReportOutcome, Store, TransitionSummary } from '../store/store.js';
import { findInlineSecret, looksSecretName } from '../vault/inline-secrets.js';
import { type Bus, waitForAny } from './bus.js';
import type { ServerSettings } from './settings.js';

/** One task as a client sends it (API body or a JSONL line). */
export interface TaskInput {
  machine?: string;
  machines?: string[];
  command?: string;
  priority?: number | string;
  retryCount?: number;
  retryDelay?: number;
  backoff?: Backoff;
  failureAction?: FailureAction;
  timeout?: number | null;
  team?: string;
  /** Labels a machine must have; the task runs on the least loaded match (with `all`: on every match). */
  select?: Record<string, string>;
  all?: boolean;
  /** Region of the selected machines, when they span several. */
  region?: string;
  /** Plain values, or `vault:KEY` to fill the variable from the team vault. */
  env?: Record<string, string>;
  /** Accept a command that looks like it holds a credential (audited). */
  allowInlineSecret?: boolean;
}

export const VAULT_PREFIX = 'vault:';

/** `3` or `25%` of `total` (rounded as given) → a count. */
export function countOf(
  value: string | number,
  total: number,
  field: string,
  round: (n: number) => number,
): number {
  const text = String(value).trim();
  const m = /^(\d{1,6})(%?)$/.exec(text);
  if (m === null || (m[2] === '%' && Number(m[1]) > 100)) {
    throw invalid(`${field} takes a count or a percentage (like 5 or 25%), got '${text}'`, field);
  }
  return m[2] === '%' ? round((Number(m[1]) / 100) * total) : Number(m[1]);
}

export type Authorize = (team: string, machine: string, field: string) => void;

export type CreateResult =
  | { kind: 'task'; task: Task; replayed?: boolean }
  | { kind: 'batch'; batchId: string; taskIds: string[]; replayed?: boolean };

/**
 * The task life cycle on the control plane: creating, claiming, reporting,
 * cancelling. It turns store changes into bus events so bridges and live
 * followers hear of them at once.
 */
export class TaskService {
  private retryTimer: NodeJS.Timeout | undefined;
  private retryTimerAt = Number.POSITIVE_INFINITY;

  constructor(
    readonly store: Store,
    readonly bus: Bus,
    readonly settings: ServerSettings,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

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
    const { tasks, regions } = await this.expand(inputs, createdBy, asBatch, authorize);
    const rolling = rollout.rolling !== undefined || rollout.maxFailures !== undefined;
    const batchId = asBatch || rolling || tasks.length > 1 ? randomUUID() : null;
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
  private async expand(
    inputs: readonly TaskInput[],
    createdBy: string | null,
    asBatch: boolean,
    authorize: Authorize,
  ): Promise<{ tasks: NewTask[]; regions: Set<string> }> {
    const out: NewTask[] = [];
    const known = new Map<string, { team: string; region: string }>();
    const regionsOfSelected = new Set<string>();
    for (const [index, input] of inputs.entries()) {
      const at = (field: string) => (asBatch ? `tasks[${index}].${field}` : field);
      if (input.command === undefined || input.command.trim() === '') {
        throw invalid(`${at('command')} must be a non-empty command`, at('command'));
      }
      const given = [input.machine, input.machines, input.select].filter((x) => x !== undefined).length;
      if (given !== 1) {
        throw invalid(`${at('machine')}: give exactly one of machine, machines or select`, at('machine'));
      }
      if (input.all === true && input.select === undefined)
        throw invalid(`${at('all')} goes with select`, at('all'));
      if (input.allowInlineSecret !== true) {
        const found = findInlineSecret(input.command);
        if (found !== null) {
          throw new AppError(
            'INLINE_SECRET',
            `${at('command')} seems to hold ${found}; keep credentials in the team vault and pass them as ` +
              `--env NAME=vault:KEY (or allow it with --allow-inline-secret)`,
            400,
            { field: at('command') },
          );
        }
      }
      const priority = (() => {
        try {
          return parsePriority(input.priority ?? 3);
        } catch (err) {
          throw invalid((err as Error).message, at('priority'));
        }
      })();
      if (input.select !== undefined && input.all !== true) {
        out.push(await this.selectorTask(input, priority, createdBy, at, authorize, regionsOfSelected));
        continue;
      }
      const targets =
        input.select !== undefined
          ? await this.matching(input, at, authorize)
          : input.machine !== undefined
            ? [input.machine]
            : (input.machines ?? []);
      if (new Set(targets).size !== targets.length)
        throw invalid(`${at('machines')} lists a machine twice`, at('machines'));
      for (const name of targets) {
        let m = known.get(name);
        if (m === undefined) {
          const machine = await this.store.getMachine(name);
          if (machine === null) {
            throw new AppError('MACHINE_NOT_FOUND', `machine '${name}' does not exist`, 404, {
              field: at(input.machine !== undefined ? 'machine' : 'machines'),
            });
          }
          authorize(machine.team, name, at(input.machine !== undefined ? 'machine' : 'machines'));
          m = { team: machine.team, region: machine.region };
          known.set(name, m);
        }
        if (input.team !== undefined && input.team !== m.team) {
          throw new AppError(
            'MACHINE_NOT_FOUND',
            `machine '${name}' does not exist in team '${input.team}'`,
            404,
            {
              field: at('machine'),
            },
          );
        }
        const env = await this.splitEnv(input, m.team, at);
        out.push({
          taskId: randomUUID(),
          batchId: null,
          machine: name,
          priority,
          command: input.command,
          env: env.plain,
          secretEnv: env.vault,
          retryCount: input.retryCount ?? 0,
          retryDelaySeconds: input.retryDelay ?? 0,
          backoff: input.backoff ?? 'fixed',
          failureAction: input.failureAction ?? 'none',
          timeoutSeconds: input.timeout ?? null,
          createdBy,
        });
        if (out.length > this.settings.maxBatchSize) {
          throw invalid(`a request may create at most ${this.settings.maxBatchSize} tasks`, 'tasks');
        }
      }
    }
    return {
      tasks: out,
      regions: new Set([...[...known.values()].map((m) => m.region), ...regionsOfSelected]),
    };
  }

  /** Machines of the caller's team whose labels match `select` (for `--all`). */
  private async matching(
    input: TaskInput,
    at: (f: string) => string,
    authorize: Authorize,
  ): Promise<string[]> {
    const team = input.team ?? 'default';
    authorize(team, `select ${JSON.stringify(input.select)}`, at('select'));
    const machines = (await this.store.listMachines({ team })).filter(
      (m) =>
        matchesSelector(m.labels, input.select ?? {}) &&
        (input.region === undefined || m.region === input.region),
    );
    if (machines.length === 0) {
      throw new AppError('NO_MATCHING_MACHINE', `no machine of team '${team}' matches ${at('select')}`, 404, {
        field: at('select'),
      });
    }
    return machines.map((m) => m.name);
  }

  /** One task placed later on the least loaded matching machine. */
  private async selectorTask(
    input: TaskInput,
    priority: NewTask['priority'],
    createdBy: string | null,
    at: (f: string) => string,
    authorize: Authorize,
    regions: Set<string>,
  ): Promise<NewTask> {
    const matching = await this.matching(input, at, authorize);
    const team = input.team ?? 'default';
    const found = new Set(
      (await this.store.listMachines({ team })).filter((m) => matching.includes(m.name)).map((m) => m.region),
    );
    if (found.size > 1 && input.region === undefined) {
      throw invalid(
        `${at('select')} matches machines in several regions (${[...found].join(', ')}); give region`,
        at('region'),
      );
    }
    const region = input.region ?? ([...found][0] as string);
    regions.add(region);
    const env = await this.splitEnv(input, team, at);
    return {
      taskId: randomUUID(),
      batchId: null,
      machine: '',
      selector: { team, region, labels: input.select ?? {} },
      priority,
      command: input.command as string,
      env: env.plain,
      secretEnv: env.vault,
      retryCount: input.retryCount ?? 0,
      retryDelaySeconds: input.retryDelay ?? 0,
      backoff: input.backoff ?? 'fixed',
      failureAction: input.failureAction ?? 'none',
      timeoutSeconds: input.timeout ?? null,
      createdBy,
    };
  }

  /** Splits `env` into plain values and vault references, checking that each referenced key exists. */
  private async splitEnv(
    input: TaskInput,
    team: string,
    at: (field: string) => string,
  ): Promise<{ plain: Record<string, string>; vault: Record<string, string> }> {
    const plain: Record<string, string> = {};
    const vault: Record<string, string> = {};
    for (const [name, value] of Object.entries(input.env ?? {})) {
      if (value.startsWith(VAULT_PREFIX)) {
        const key = value.slice(VAULT_PREFIX.length);
        if ((await this.store.vault.getSecret(team, key)) === null) {
          throw new AppError(
            'VAULT_KEY_NOT_FOUND',
            `team '${team}' has no vault key '${key}' (for ${name})`,
            404,
            {
              field: at(`env.${name}`),
            },
          );
        }
        vault[name] = key;
      } else if (looksSecretName(name) && value !== '' && input.allowInlineSecret !== true) {
        throw new AppError(
          'INLINE_SECRET',
          `${name} looks like a credential; store it with 'rediacc vault set' and pass --env ${name}=vault:KEY ` +
            '(or allow it with --allow-inline-secret)',
          400,
          { field: at(`env.${name}`) },
        );
      } else {
        plain[name] = value;
      }
    }
    return { plain, vault };
  }

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
    signal?: AbortSignal,
  ): Promise<{ tasks: Assignment[]; cancel: { taskId: string; attempt: number }[] }> {
    const known = new Set(stopping.map((s) => `${s.taskId}#${s.attempt}`));
    const deadline = this.now() + Math.min(waitMs, this.settings.claimWaitMaxMs);
    for (;;) {
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
            })
          : [];
      const cancel = (await this.store.cancelsFor(bridge)).filter(
        (c) => !known.has(`${c.taskId}#${c.attempt}`),
      );
      const left = deadline - this.now();
      if (tasks.length > 0 || cancel.length > 0 || left <= 0 || signal?.aborted) {
        for (const t of tasks) {
          this.bus.publish(`task:${t.taskId}`, { type: 'status', taskId: t.taskId, status: 'assigned' });
        }
        return { tasks, cancel };
      }
      await waitForAny(this.bus, [`region:${region}`, `bridge:${bridge}`], left, signal);
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

  /** Publishes status changes; a task leaving a slot may let another start. */
  announce(changes: TransitionSummary): void {
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
