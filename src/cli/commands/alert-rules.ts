import type { Command } from 'commander';
import { type AlertRules, LIMITS, RULE_SWITCHES, SWITCH_NAMES } from '../../notify/rules.js';
import { contextOf, type Verbs } from '../context.js';
import { usage } from '../errors.js';
import { printFields, printJson } from '../output.js';
import { parseCount } from './task-input.js';

interface RulesAnswer {
  team: string;
  rules: AlertRules;
  maxKeyAgeDays: number | null;
}

interface RuleFlags {
  queueThreshold?: string;
  priorityThreshold?: string;
  queueMinutes?: string;
  waitThresholdMinutes?: string;
  enable?: string;
  disable?: string;
}

const NAMES = Object.keys(SWITCH_NAMES).join(', ');

function minutes(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < LIMITS.minutes.min || n > LIMITS.minutes.max) {
    throw usage(
      `${flag} takes minutes from ${LIMITS.minutes.min} to ${LIMITS.minutes.max}, got '${value}'`,
      flag,
    );
  }
  return n;
}

function threshold(value: string, flag: string): number {
  const n = parseCount(value, flag, LIMITS.threshold.max);
  if (n < LIMITS.threshold.min) throw usage(`${flag} must be at least ${LIMITS.threshold.min}`, flag);
  return n;
}

function switches(list: string | undefined, on: boolean, flag: string, patch: Record<string, unknown>): void {
  if (list === undefined) return;
  for (const raw of list.split(',').map((s) => s.trim())) {
    const key = SWITCH_NAMES[raw];
    if (key === undefined) throw usage(`${flag}: unknown rule '${raw}' (rules: ${NAMES})`, flag);
    if (patch[key] !== undefined && patch[key] !== on)
      throw usage(`rule ${raw} is both enabled and disabled`);
    patch[key] = on;
  }
}

/** `--priority-threshold 1=5,2=50` (or `2=none` to remove one). */
function priorityThresholds(value: string): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const part of value.split(',').map((s) => s.trim())) {
    const m = /^([1-5])=(none|\d+)$/.exec(part);
    if (m === null) throw usage(`--priority-threshold takes 1=5,2=50 (or 2=none), got '${part}'`);
    out[m[1] as string] = m[2] === 'none' ? null : threshold(m[2] as string, '--priority-threshold');
  }
  return out;
}

function show(r: RulesAnswer, format: string): void {
  if (format === 'json') {
    printJson(r);
    return;
  }
  const label = Object.fromEntries(Object.entries(SWITCH_NAMES).map(([name, key]) => [key, name]));
  const p = Object.entries(r.rules.priorityThresholds)
    .map(([k, n]) => `p${k} > ${n}`)
    .join(', ');
  printFields([
    ['team', r.team],
    ...RULE_SWITCHES.map((k): [string, unknown] => [label[k] ?? k, r.rules[k] ? 'on' : 'off']),
    ['queue threshold', `more than ${r.rules.queueThreshold} pending for ${r.rules.queueMinutes} min`],
    ['priority thresholds', p === '' ? null : `${p} (for ${r.rules.queueMinutes} min)`],
    ['wait threshold', `a task waiting longer than ${r.rules.waitThresholdMinutes} min`],
    [
      'max SSH key age',
      r.maxKeyAgeDays === null ? 'none (rediacc update team --max-key-age)' : `${r.maxKeyAgeDays} days`,
    ],
  ]);
}

export function registerAlertRuleCommands(v: Verbs): void {
  v.get
    .command('alert-rules <team>')
    .description('which alerts reach the team’s channels, and the queue and waiting thresholds')
    .action(async (team: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      show(await client.get<RulesAnswer>(`/teams/${encodeURIComponent(team)}/alert-rules`), format);
    });

  v.update
    .command('alert-rules <team>')
    .description(`change a team's alert rules (rules: ${NAMES}; all on by default)`)
    .option('--queue-threshold <n>', 'alert when more tasks than this wait (default 1000)')
    .option('--priority-threshold <p=n,…>', 'per priority, e.g. 1=5,2=50 (2=none removes one)')
    .option('--queue-minutes <m>', 'for this long before the alert (default 5)')
    .option('--wait-threshold-minutes <m>', 'alert when a task waits longer than this (default 30)')
    .option('--enable <rules>', 'turn rules on, e.g. queue-length,task-wait')
    .option('--disable <rules>', 'turn rules off, e.g. machine-offline')
    .action(async (team: string, f: RuleFlags, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const patch: Record<string, unknown> = {};
      if (f.queueThreshold !== undefined)
        patch.queueThreshold = threshold(f.queueThreshold, '--queue-threshold');
      if (f.priorityThreshold !== undefined)
        patch.priorityThresholds = priorityThresholds(f.priorityThreshold);
      if (f.queueMinutes !== undefined) patch.queueMinutes = minutes(f.queueMinutes, '--queue-minutes');
      if (f.waitThresholdMinutes !== undefined)
        patch.waitThresholdMinutes = minutes(f.waitThresholdMinutes, '--wait-threshold-minutes');
      switches(f.enable, true, '--enable', patch);
      switches(f.disable, false, '--disable', patch);
      if (Object.keys(patch).length === 0) throw usage('nothing to change: give at least one option');
      show(
        await client.request<RulesAnswer>('PATCH', `/teams/${encodeURIComponent(team)}/alert-rules`, patch),
        format,
      );
    });
}
