import type { Command } from 'commander';
import { collect, contextOf, type Verbs } from '../context.js';
import { usage } from '../errors.js';
import { printFields, printJson, printTable, priorityText, truncate } from '../output.js';
import { type CreateTaskFlags, parseCount, taskFromFlags } from './task-input.js';

/** A schedule as the API returns it. */
export interface ApiSchedule {
  scheduleId: string;
  name: string;
  team: string;
  cron: string;
  timezone: string;
  overlap: string;
  catchUp: boolean;
  paused: boolean;
  task: {
    machine?: string;
    machines?: string[];
    select?: Record<string, string>;
    all?: boolean;
    region?: string;
    command: string;
    priority: number;
    retryCount: number;
    retryDelay: number;
    backoff: string;
    failureAction: string;
    timeout: number | null;
    env: string[];
    secretEnv: Record<string, string>;
  };
  nextRunAt: string | null;
  nextRuns: string[];
  runPending: boolean;
  lastRunAt: string | null;
  lastTaskIds: string[];
  lastBatchId: string | null;
  lastDueAt: string | null;
  lastOutcome: string | null;
  lastDetail: string | null;
  createdBy: string | null;
  createdAt: string;
}

interface ScheduleFlags extends CreateTaskFlags {
  cron?: string;
  timezone?: string;
  overlap?: string;
  catchUp?: boolean;
  paused?: boolean;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function checkName(name: string): string {
  if (!NAME.test(name)) {
    throw usage(`'${name}' is not a schedule name (letters, digits, . _ -; at most 63)`, 'name');
  }
  return name;
}

/** `2026-03-29T01:00:00.000Z` → `2026-03-29 03:00 Europe/Berlin`. */
export function wallTime(isoTime: string | null, timezone: string): string | null {
  if (isoTime === null) return null;
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(isoTime));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '??';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')} ${timezone}`;
}

function target(t: ApiSchedule['task']): string {
  if (t.machine !== undefined) return t.machine;
  if (t.machines !== undefined) return t.machines.join(',');
  const labels = Object.entries(t.select ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `select ${labels}${t.all === true ? ' (all)' : ''}${t.region === undefined ? '' : ` in ${t.region}`}`;
}

function lastText(s: ApiSchedule): string | null {
  if (s.lastOutcome === null) return null;
  return `${s.lastOutcome} (due ${wallTime(s.lastDueAt, s.timezone)})`;
}

/** Body of `POST /schedules` from the flags; the task fields are parsed as `create task` parses them. */
export function scheduleBody(name: string, f: ScheduleFlags): Record<string, unknown> {
  if (f.cron === undefined) throw usage('--cron is required, like --cron "0 3 * * *"', '--cron');
  const task = taskFromFlags(f);
  if (task.command === undefined) throw usage('--command is required', '--command');
  if (task.machine === undefined && task.machines === undefined && task.select === undefined) {
    throw usage('give --machine NAME, --machines a,b,c or --select k=v', '--machine');
  }
  if (f.overlap !== undefined && f.overlap !== 'skip' && f.overlap !== 'allow') {
    throw usage(`--overlap must be skip or allow, got '${f.overlap}'`, '--overlap');
  }
  return {
    name: checkName(name),
    cron: f.cron,
    ...(f.timezone === undefined ? {} : { timezone: f.timezone }),
    ...(f.overlap === undefined ? {} : { overlap: f.overlap }),
    ...(f.catchUp === true ? { catchUp: true } : {}),
    ...(f.paused === true ? { paused: true } : {}),
    ...task,
  };
}

export function registerScheduleCommands(v: Verbs): void {
  v.create
    .command('schedule <name>')
    .description('create a schedule: a task created at every time a cron expression names')
    .option('--cron <expr>', '5 fields: minute hour day-of-month month day-of-week (or @daily, @hourly …)')
    .option('--timezone <zone>', 'IANA time zone the cron expression is read in (default UTC)')
    .option('--overlap <policy>', 'skip (default: no new run while the last one waits or runs) or allow')
    .option('--catch-up', 'after downtime, run once for the missed period (default: skip it)')
    .option('--paused', 'create it paused')
    .option('--machine <name>', 'machine to run on')
    .option('--machines <a,b,c>', 'fan-out: one task per machine at every run')
    .option('--select <k=v,…>', 'run on the least loaded online machine with these labels')
    .option('--all', 'with --select: one task on every matching machine')
    .option('--region <region>', 'with --select: the region, when matching machines span several')
    .option('--command <cmd>', 'shell command to run (sh -c)')
    .option('-p, --priority <p>', '1-5 or critical|high|normal|background|low (default 3)')
    .option('--retry-count <n>', 'further attempts after a failure (default 0)')
    .option('--retry-delay <seconds>', 'seconds between attempts (default 0)')
    .option('--backoff <kind>', 'fixed (default) or exponential')
    .option('--failure-action <action>', 'alert or none (default)')
    .option('--timeout <seconds>', 'kill the command after this long')
    .option('--team <team>', 'team the machines must belong to (and that owns the schedule)')
    .option('--env <NAME=value>', 'environment variable (repeatable); NAME=vault:KEY from the vault', collect)
    .option('--allow-inline-secret', 'accept a command that looks like it holds a credential (audited)')
    .option(
      '--retry-policy <file>',
      'JSON file like {"retryCount":3,"retryDelay":30,"failureAction":"alert"}',
    )
    .action(async (name: string, flags: ScheduleFlags, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const s = await client.post<ApiSchedule>('/schedules', scheduleBody(name, flags));
      if (format === 'json') return printJson(s);
      process.stdout.write(
        `created schedule ${s.name} (team ${s.team}): '${s.cron}' in ${s.timezone}; ` +
          `${s.paused ? 'paused' : `next run ${wallTime(s.nextRunAt, s.timezone)}`}\n`,
      );
    });

  v.list
    .command('schedules')
    .alias('schedule')
    .description('list schedules with their next and last runs')
    .option('--team <team>')
    .action(async (flags: { team?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const q = flags.team === undefined ? '' : `?team=${encodeURIComponent(flags.team)}`;
      const list = await client.get<ApiSchedule[]>(`/schedules${q}`);
      if (format === 'json') return printJson(list);
      printTable(
        ['NAME', 'TEAM', 'CRON', 'TIMEZONE', 'STATE', 'NEXT RUN', 'LAST', 'TARGET', 'COMMAND'],
        list.map((s) => [
          s.name,
          s.team,
          s.cron,
          s.timezone,
          s.paused ? 'paused' : 'active',
          s.paused ? null : wallTime(s.nextRunAt, s.timezone)?.replace(` ${s.timezone}`, ''),
          s.lastOutcome,
          truncate(target(s.task), 24),
          truncate(s.task.command, 40),
        ]),
      );
    });

  v.get
    .command('schedule <name>')
    .description('show a schedule, its next run times and its last run')
    .option('--next <n>', 'how many next run times to show (default 5, at most 100)')
    .action(async (name: string, flags: { next?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const next = flags.next === undefined ? '' : `?next=${parseCount(flags.next, '--next', 100)}`;
      const s = await client.get<ApiSchedule>(`/schedules/${encodeURIComponent(checkName(name))}${next}`);
      if (format === 'json') return printJson(s);
      const t = s.task;
      printFields([
        ['name', s.name],
        ['team', s.team],
        ['cron', `${s.cron} (${s.timezone})`],
        ['state', s.paused ? 'paused' : 'active'],
        ['overlap', s.overlap],
        ['catchUp', s.catchUp ? 'yes: one run for a missed period' : 'no: missed runs are skipped'],
        ['target', target(t)],
        ['command', t.command],
        ['priority', priorityText(t.priority)],
        [
          'retry',
          `${t.retryCount} retries, ${t.retryDelay}s apart (${t.backoff}), on failure: ${t.failureAction}`,
        ],
        ['timeout', t.timeout === null ? null : `${t.timeout}s`],
        ['env', [...t.env, ...Object.entries(t.secretEnv).map(([k, key]) => `${k}=vault:${key}`)].join(', ')],
        ['lastRun', s.lastRunAt === null ? null : wallTime(s.lastRunAt, s.timezone)],
        ['lastTasks', s.lastBatchId === null ? s.lastTaskIds.join(', ') : `batch ${s.lastBatchId}`],
        ['lastOutcome', lastText(s)],
        ['lastDetail', s.lastDetail],
        ['createdBy', s.createdBy],
      ]);
      process.stdout.write(`\nnext runs:\n`);
      if (s.nextRuns.length === 0) process.stdout.write('  none (paused)\n');
      for (const at of s.nextRuns) process.stdout.write(`  ${wallTime(at, s.timezone)}  (${at})\n`);
    });

  for (const [verb, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    const group =
      v.program.commands.find((c) => c.name() === verb) ??
      v.program.command(verb).description(`${verb} a schedule`);
    group
      .command('schedule <name>')
      .description(
        paused
          ? 'pause a schedule: no runs until it is resumed'
          : 'resume a schedule from the next time after now (paused times do not run)',
      )
      .action(async (name: string, _flags: unknown, cmd: Command) => {
        const { client, format } = contextOf(cmd);
        const s = await client.request<ApiSchedule>(
          'PATCH',
          `/schedules/${encodeURIComponent(checkName(name))}`,
          { paused },
        );
        if (format === 'json') return printJson(s);
        process.stdout.write(
          paused
            ? `schedule ${s.name} paused\n`
            : `schedule ${s.name} resumed; next run ${wallTime(s.nextRunAt, s.timezone)}\n`,
        );
      });
  }

  v.delete
    .command('schedule <name>')
    .description('delete a schedule (the tasks it created stay)')
    .action(async (name: string, _flags: unknown, cmd: Command) => {
      const { client } = contextOf(cmd);
      await client.request('DELETE', `/schedules/${encodeURIComponent(checkName(name))}`);
      process.stdout.write(`deleted schedule ${name}\n`);
    });
}
