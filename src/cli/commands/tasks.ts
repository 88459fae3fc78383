import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { TaskInput } from '../../server/task-service.js';
import type { ApiClient } from '../client.js';
import { collect, contextOf, type Verbs } from '../context.js';
import { CliError, usage } from '../errors.js';
import { age, type Format, printFields, printJson, printTable, priorityText, truncate } from '../output.js';
import { type ApiTask, exitCodeOf, followTask, OutputPrinter } from './follow.js';
import { type CreateTaskFlags, parseCount, parseJsonl, taskFromFlags } from './task-input.js';
import { waitForBatch } from './wait-batch.js';

const UUID = /^[0-9a-fA-F-]{36}$/;

export function checkTaskId(id: string): string {
  if (!UUID.test(id)) throw usage(`'${id}' is not a task id (a UUID)`);
  return id;
}

export function registerTaskCommands(v: Verbs): void {
  v.create
    .command('task')
    .description('create a task (or a fan-out, or a batch from JSONL) and optionally wait for it')
    .option('--machine <name>', 'machine to run on')
    .option('--machines <a,b,c>', 'fan-out: one task per machine, in one batch')
    .option('--select <k=v,…>', 'run on the least loaded online machine with these labels when a slot frees')
    .option('--all', 'with --select: one task on every matching machine, in one batch')
    .option('--region <region>', 'with --select: the region, when matching machines span several')
    .option(
      '--idempotency-key <key>',
      'a retried create with the same key returns the first result (default: a new one)',
    )
    .option('--rolling <n|p%>', 'fan-outs: run at most this many (or this share) of the machines at once')
    .option('--max-failures <n|p%>', 'fan-outs: once more have failed, cancel the rest (ROLLOUT_HALTED)')
    .option('--command <cmd>', 'shell command to run (sh -c)')
    .option('-p, --priority <p>', '1-5 or critical|high|normal|background|low (default 3)')
    .option('--retry-count <n>', 'further attempts after a failure (default 0)')
    .option('--retry-delay <seconds>', 'seconds between attempts (default 0)')
    .option('--backoff <kind>', 'fixed (default) or exponential (doubles, with jitter)')
    .option(
      '--failure-action <action>',
      'alert or none (default): what happens after the last failed attempt',
    )
    .option('--timeout <seconds>', 'kill the command (its whole process tree) after this long')
    .option('--team <team>', 'team the machine must belong to')
    .option(
      '--env <NAME=value>',
      'environment variable (repeatable); NAME=vault:KEY fills it from the team vault',
      collect,
    )
    .option('--allow-inline-secret', 'accept a command that looks like it holds a credential (audited)')
    .option(
      '--retry-policy <file>',
      'JSON file like {"retryCount":3,"retryDelay":30,"failureAction":"alert"}',
    )
    .option(
      '--file <file>',
      "JSONL file of tasks, one JSON object per line ('-' for stdin); flags are defaults",
    )
    .option('--wait', 'stream the output and exit with the task’s exit code (batches: progress, summary)')
    .action(
      async (
        flags: CreateTaskFlags & {
          wait?: boolean;
          rolling?: string;
          maxFailures?: string;
          idempotencyKey?: string;
        },
        cmd: Command,
      ) => {
        const { client, format } = contextOf(cmd);
        const base = taskFromFlags(flags);
        const rollout: Record<string, string> = {};
        for (const [flag, key, value] of [
          ['--rolling', 'rolling', flags.rolling],
          ['--max-failures', 'maxFailures', flags.maxFailures],
        ] as const) {
          if (value === undefined) continue;
          if (!/^\d{1,6}%?$/.test(value))
            throw usage(`${flag} takes a count or a percentage like 5 or 25%, got '${value}'`, flag);
          rollout[key] = value;
        }
        if (flags.file !== undefined) {
          const text = readFileSync(flags.file === '-' ? 0 : flags.file, 'utf8');
          const { tasks, lines } = parseJsonl(text, flags.file === '-' ? 'stdin' : flags.file, base);
          const res = await postTasks(client, { tasks, ...rollout }, lines, flags.idempotencyKey);
          return reportBatch(client, res, format, flags.wait === true);
        }
        if (base.command === undefined)
          throw usage('--command is required (or --file with tasks)', '--command');
        if (base.machine === undefined && base.machines === undefined && base.select === undefined) {
          throw usage('give --machine NAME, --machines a,b,c or --select k=v', '--machine');
        }
        const res = await postTasks(client, { ...base, ...rollout }, null, flags.idempotencyKey);
        if ('batchId' in res && !('taskId' in res))
          return reportBatch(client, res, format, flags.wait === true);
        const task = res as ApiTask;
        if (flags.wait !== true) {
          if (format === 'json') printJson(task);
          else
            process.stdout.write(
              `created task ${task.taskId} on ${task.machine ?? 'a machine picked by --select'}, priority ${priorityText(task.priority)}\n`,
            );
          return;
        }
        if (format === 'text') {
          process.stderr.write(
            `rediacc: task ${task.taskId} queued on ${task.machine}, priority ${priorityText(task.priority)}\n`,
          );
        }
        await waitForTask(client, task, format);
      },
    );

  v.list
    .command('tasks')
    .alias('task')
    .description('list tasks, newest first')
    .option('--status <status>', 'pending|assigned|running|retrying|cancelling|completed|failed|cancelled')
    .option('--machine <name>')
    .option('-p, --priority <p>', '1-5 or its label')
    .option('--team <team>')
    .option('--batch <id>', 'tasks of one batch')
    .option('--limit <n>', 'most tasks to show (default 50, at most 1000)')
    .action(async (flags: Record<string, string | undefined>, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const q = new URLSearchParams();
      for (const key of ['status', 'machine', 'priority', 'team', 'batch'] as const) {
        const value = flags[key];
        if (value !== undefined) q.set(key, value);
      }
      if (flags.limit !== undefined) q.set('limit', String(parseCount(flags.limit, '--limit', 1000)));
      const tasks = await client.get<ApiTask[]>(`/tasks?${q}`);
      if (format === 'json') return printJson(tasks);
      printTable(
        ['TASK ID', 'STATUS', 'PRIORITY', 'MACHINE', 'ATTEMPTS', 'EXIT', 'CREATED', 'COMMAND'],
        tasks.map((t) => [
          t.taskId,
          t.status,
          priorityText(t.priority),
          t.machine,
          t.attempts,
          t.exitCode ?? t.reason,
          age(t.createdAt),
          truncate(t.command, 48),
        ]),
      );
    });

  v.get
    .command('task <id>')
    .description('show one task with its attempts')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const t = await client.get<ApiTask & { attemptHistory: Record<string, unknown>[] }>(
        `/tasks/${checkTaskId(id)}`,
      );
      if (format === 'json') return printJson(t);
      printFields([
        ['taskId', t.taskId],
        ['status', t.status],
        ['priority', priorityText(t.priority)],
        ['machine', t.machine],
        ['team', t.team],
        ['command', t.command],
        ['env', (t.env as string[]).join(', ')],
        [
          'retry',
          `${t.retryCount} retries, ${t.retryDelay}s apart (${t.backoff}), on failure: ${t.failureAction}`,
        ],
        ['timeout', t.timeout === null ? null : `${t.timeout}s`],
        ['attempts', t.attempts],
        ['exitCode', t.exitCode],
        ['reason', t.reason],
        ['batchId', t.batchId],
        ['createdBy', t.createdBy],
        ['createdAt', t.createdAt],
        ['startedAt', t.startedAt],
        ['finishedAt', t.finishedAt],
        ['retryAt', t.retryAt],
        ['output', `${t.outputBytes} bytes${t.outputCapped ? ' (capped)' : ''}`],
      ]);
      if (t.attemptHistory.length > 0) {
        process.stdout.write('\n');
        printTable(
          ['ATTEMPT', 'STATUS', 'BRIDGE', 'STARTED', 'FINISHED', 'EXIT', 'REASON'],
          t.attemptHistory.map((a) => [
            a.attempt,
            a.status,
            a.bridge,
            a.startedAt,
            a.finishedAt,
            a.exitCode,
            a.reason,
          ]),
        );
      }
    });

  v.cancel
    .command('task <id>')
    .description('cancel a task; a running command is killed with its whole process tree')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const t = await client.post<ApiTask>(`/tasks/${checkTaskId(id)}/cancel`);
      if (format === 'json') return printJson(t);
      process.stdout.write(`task ${t.taskId}: ${t.status}\n`);
    });

  v.retry
    .command('task <id>')
    .description('queue an ended task again for a new round of attempts')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const t = await client.post<ApiTask>(`/tasks/${checkTaskId(id)}/retry`);
      if (format === 'json') return printJson(t);
      process.stdout.write(`task ${t.taskId}: ${t.status}\n`);
    });
}

type Created = ApiTask | { batchId: string; count: number; taskIds: string[] };

/** Creates tasks; errors about `tasks[i]` are told by line number of the JSONL file. */
const CREATE_TRIES = 6;

/**
 * Creates tasks; errors about `tasks[i]` are told by line number of the JSONL
 * file. Every create carries an Idempotency-Key, so retrying after a lost
 * answer (server restart, 503) never creates the tasks twice.
 */
async function postTasks(
  client: ApiClient,
  body: TaskInput | { tasks: TaskInput[] },
  lines: number[] | null,
  key: string = randomUUID(),
) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await client.request<Created>('POST', '/tasks', body, { 'idempotency-key': key });
    } catch (err) {
      const transient = err instanceof CliError && err.exitCode === 1 && err.code !== 'INTERNAL_ERROR';
      if (transient && attempt < CREATE_TRIES) {
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        continue;
      }
      if (err instanceof CliError && lines !== null) {
        const m = /^tasks\[(\d+)\]/.exec(err.field ?? '') ?? /tasks\[(\d+)\]/.exec(err.message);
        const line = m === null ? undefined : lines[Number(m[1])];
        if (line !== undefined)
          throw new CliError(err.code, `line ${line}: ${err.message}`, err.exitCode, err.field);
      }
      throw err;
    }
  }
}

async function reportBatch(client: ApiClient, res: Created, format: Format, wait: boolean): Promise<void> {
  const batch = res as { batchId: string; count: number; taskIds: string[] };
  if (!wait) {
    if (format === 'json') return printJson(batch);
    process.stdout.write(`created batch ${batch.batchId} with ${batch.count} task(s)\n`);
    return;
  }
  if (format === 'text')
    process.stderr.write(`rediacc: batch ${batch.batchId}: ${batch.count} task(s) queued\n`);
  process.exitCode = await waitForBatch(client, batch.batchId, format);
}

async function waitForTask(client: ApiClient, task: ApiTask, format: Format): Promise<void> {
  let last = task.status;
  let failures = 0;
  const ended = await followTask(
    client,
    task.taskId,
    format === 'text' ? new OutputPrinter('text', task) : null,
    (s) => {
      if (format === 'text' && s !== last && s === 'retrying') {
        failures += 1;
        process.stderr.write(`rediacc: attempt ${failures} of task ${task.taskId} failed; retrying\n`);
      }
      if (format === 'text' && s !== last && s === 'cancelling')
        process.stderr.write(`rediacc: cancelling ${task.taskId}\n`);
      last = s;
    },
  );
  if (format === 'json') printJson(ended);
  else {
    const how =
      ended.status === 'completed'
        ? 'completed'
        : `${ended.status} (${ended.reason ?? 'exit'} ${ended.exitCode ?? ''})`;
    process.stderr.write(`rediacc: task ${ended.taskId} ${how.trim()} after ${ended.attempts} attempt(s)\n`);
  }
  process.exitCode = exitCodeOf(ended);
}
