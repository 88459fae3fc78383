import { AppError, invalid } from '../core/errors.js';
import { uuidv7 } from '../core/ids.js';
import { parsePriority } from '../core/priority.js';
import type { Backoff, FailureAction, Task } from '../core/types.js';
import { matchesSelector } from '../scheduler/placement.js';
import type { NewTask, Store } from '../store/store.js';
import { findInlineSecret, looksSecretName } from '../vault/inline-secrets.js';
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
 * Turns what a client sent into task rows: checks references, fans out over
 * machines and selectors, splits vault references from plain environment
 * values, and refuses inline credentials. Read-only towards the store.
 */
export class TaskExpander {
  constructor(
    private readonly store: Store,
    private readonly settings: ServerSettings,
  ) {}

  async expand(
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
          taskId: uuidv7(),
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
      taskId: uuidv7(),
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
}
