import type { Command } from 'commander';
import { contextOf, type Verbs } from '../context.js';
import { usage } from '../errors.js';
import { age, printJson, printTable, truncate } from '../output.js';
import { deliverySummary } from './channels.js';
import { parseCount } from './task-input.js';

export function registerFleetCommands(v: Verbs): void {
  v.create
    .command('team <name>')
    .description('create a team')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const t = await client.post<{ name: string }>('/teams', { name });
      if (format === 'json') return printJson(t);
      process.stdout.write(`created team ${t.name}\n`);
    });
  v.list
    .command('teams')
    .alias('team')
    .description('list teams')
    .action(async (_f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const teams = await client.get<{ name: string; createdAt: string }[]>('/teams');
      if (format === 'json') return printJson(teams);
      printTable(
        ['NAME', 'CREATED'],
        teams.map((t) => [t.name, age(t.createdAt)]),
      );
    });
  v.delete
    .command('team <name>')
    .description('delete a team without machines or tasks')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await client.request('DELETE', `/teams/${encodeURIComponent(name)}`);
      if (format === 'json') return printJson({ name, deleted: true });
      process.stdout.write(`deleted team ${name}\n`);
    });

  v.update
    .command('team <name>')
    .description('team settings')
    .requiredOption('--max-key-age <age>', 'oldest SSH key age before an alert, e.g. 90d, or none')
    .action(async (name: string, flags: { maxKeyAge: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      let days: number | null = null;
      if (flags.maxKeyAge !== 'none') {
        const m = /^(\d{1,4})d?$/.exec(flags.maxKeyAge);
        if (m === null || Number(m[1]) < 1)
          throw usage(`--max-key-age takes days like 90d, or none; got '${flags.maxKeyAge}'`);
        days = Number(m[1]);
      }
      const res = await client.request<{ name: string; maxKeyAgeDays: number | null }>(
        'PATCH',
        `/teams/${encodeURIComponent(name)}`,
        {
          maxKeyAgeDays: days,
        },
      );
      if (format === 'json') return printJson(res);
      process.stdout.write(
        `team ${res.name}: SSH keys older than ${res.maxKeyAgeDays ?? '(no limit)'} days raise an alert\n`,
      );
    });

  v.create
    .command('region <name>')
    .description('create a region')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const r = await client.post<{ name: string }>('/regions', { name });
      if (format === 'json') return printJson(r);
      process.stdout.write(`created region ${r.name}\n`);
    });
  v.list
    .command('regions')
    .alias('region')
    .description('list regions')
    .action(async (_f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const regions = await client.get<{ name: string; createdAt: string }[]>('/regions');
      if (format === 'json') return printJson(regions);
      printTable(
        ['NAME', 'CREATED'],
        regions.map((t) => [t.name, age(t.createdAt)]),
      );
    });

  v.create
    .command('bridge <name>')
    .description('register a bridge; prints its token once')
    .option('--region <region>', 'region it serves (default: default)')
    .action(async (name: string, flags: { region?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const b = await client.post<{ name: string; region: string; token: string }>('/bridges', {
        name,
        ...(flags.region === undefined ? {} : { region: flags.region }),
      });
      if (format === 'json') return printJson(b);
      process.stdout.write(
        `created bridge ${b.name} for region ${b.region}\ntoken (shown once): ${b.token}\nrun it: rediacc bridge --url <server url> --token ${b.token}\n`,
      );
    });
  v.list
    .command('bridges')
    .alias('bridge')
    .description('list bridges: online, last seen, tasks running')
    .action(async (_f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const bridges =
        await client.get<
          { name: string; region: string; online: boolean; lastSeenAt: string | null; running: number }[]
        >('/bridges');
      if (format === 'json') return printJson(bridges);
      printTable(
        ['NAME', 'REGION', 'ONLINE', 'LAST SEEN', 'RUNNING'],
        bridges.map((b) => [b.name, b.region, b.online ? 'yes' : 'no', age(b.lastSeenAt), b.running]),
      );
    });

  v.list
    .command('alerts')
    .alias('alert')
    .description('list alerts, newest first')
    .option('--team <team>')
    .option('--limit <n>', 'most alerts to show (default 100)')
    .action(async (flags: { team?: string; limit?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const q = new URLSearchParams();
      if (flags.team !== undefined) q.set('team', flags.team);
      if (flags.limit !== undefined) q.set('limit', String(parseCount(flags.limit, '--limit', 1000)));
      const alerts = await client.get<
        {
          id: number;
          kind: string;
          team: string;
          taskId: string | null;
          machine: string | null;
          message: string;
          createdAt: string;
          deliveries?: { channel: string; status: string; attempts: number; lastError: string | null }[];
          deliveryNote?: string | null;
        }[]
      >(`/alerts?${q}`);
      if (format === 'json') return printJson(alerts);
      printTable(
        ['ID', 'KIND', 'TEAM', 'MACHINE', 'TASK', 'WHEN', 'DELIVERY', 'MESSAGE'],
        alerts.map((a) => [
          a.id,
          a.kind,
          a.team,
          a.machine,
          a.taskId,
          age(a.createdAt),
          deliverySummary(a),
          truncate(a.message, 80),
        ]),
      );
    });
}
