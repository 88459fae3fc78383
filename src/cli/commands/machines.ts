import type { Command } from 'commander';
import { contextOf, type Verbs } from '../context.js';
import { usage } from '../errors.js';
import { age, printFields, printJson, printTable } from '../output.js';
import { parseCount, parseLabels } from './task-input.js';

interface ApiMachine {
  name: string;
  team: string;
  region: string;
  transport: string;
  concurrency: number;
  labels: Record<string, string>;
  host: string | null;
  port: number | null;
  user: string | null;
  running: number;
  pending: number;
  createdAt: string;
  updatedAt: string;
}

interface MachineFlags {
  team?: string;
  transport?: string;
  concurrency?: string;
  labels?: string;
  region?: string;
  host?: string;
  port?: string;
  user?: string;
}

function machineBody(f: MachineFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (f.team !== undefined) body.team = f.team;
  if (f.transport !== undefined) {
    if (f.transport !== 'local' && f.transport !== 'ssh')
      throw usage(`--transport must be local or ssh`, '--transport');
    body.transport = f.transport;
  }
  if (f.concurrency !== undefined) body.concurrency = parseCount(f.concurrency, '--concurrency', 10_000);
  if (f.labels !== undefined) body.labels = parseLabels(f.labels);
  if (f.region !== undefined) body.region = f.region;
  if (f.host !== undefined) body.host = f.host;
  if (f.port !== undefined) body.port = parseCount(f.port, '--port', 65_535);
  if (f.user !== undefined) body.user = f.user;
  return body;
}

function show(m: ApiMachine, format: string): void {
  if (format === 'json') {
    printJson(m);
    return;
  }
  printFields([
    ['name', m.name],
    ['team', m.team],
    ['region', m.region],
    ['transport', m.transport],
    ['address', m.host === null ? null : `${m.user ?? ''}${m.user === null ? '' : '@'}${m.host}:${m.port}`],
    ['concurrency', m.concurrency],
    [
      'labels',
      Object.entries(m.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
    ],
    ['running', m.running],
    ['pending', m.pending],
    ['createdAt', m.createdAt],
  ]);
}

export function registerMachineCommands(v: Verbs): void {
  const withFields = (c: Command) =>
    c
      .option('--concurrency <n>', 'tasks at once (default 4)')
      .option('--labels <k=v,…>', 'labels for --select placement')
      .option('--region <region>', 'region whose bridges serve it (default: default)')
      .option('--host <host>', 'SSH host')
      .option('--port <port>', 'SSH port (default 22)')
      .option('--user <user>', 'SSH user');

  withFields(
    v.create
      .command('machine <name>')
      .description('register a machine')
      .option('--team <team>', 'owning team (default: default)')
      .option('--transport <kind>', 'local (runs on the bridge host) or ssh'),
  ).action(async (name: string, flags: MachineFlags, cmd: Command) => {
    const { client, format } = contextOf(cmd);
    const m = await client.post<ApiMachine>('/machines', { name, ...machineBody(flags) });
    if (format === 'json') return printJson(m);
    process.stdout.write(
      `created machine ${m.name} (team ${m.team}, region ${m.region}, ${m.transport}, concurrency ${m.concurrency})\n`,
    );
  });

  v.list
    .command('machines')
    .alias('machine')
    .description('list machines')
    .option('--team <team>')
    .option('--region <region>')
    .action(async (flags: { team?: string; region?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const q = new URLSearchParams(
        Object.entries(flags).filter(([, x]) => x !== undefined) as [string, string][],
      );
      const machines = await client.get<ApiMachine[]>(`/machines?${q}`);
      if (format === 'json') return printJson(machines);
      printTable(
        ['NAME', 'TEAM', 'REGION', 'TRANSPORT', 'RUNNING', 'PENDING', 'LABELS', 'CREATED'],
        machines.map((m) => [
          m.name,
          m.team,
          m.region,
          m.transport,
          `${m.running}/${m.concurrency}`,
          m.pending,
          Object.entries(m.labels)
            .map(([k, x]) => `${k}=${x}`)
            .join(','),
          age(m.createdAt),
        ]),
      );
    });

  v.get
    .command('machine <name>')
    .description('show one machine')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      show(await client.get<ApiMachine>(`/machines/${encodeURIComponent(name)}`), format);
    });

  withFields(v.update.command('machine <name>').description('change a machine’s settings')).action(
    async (name: string, flags: MachineFlags, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const body = machineBody(flags);
      if (Object.keys(body).length === 0) throw usage('nothing to change: give at least one option');
      show(await client.request<ApiMachine>('PATCH', `/machines/${encodeURIComponent(name)}`, body), format);
    },
  );

  v.delete
    .command('machine <name>')
    .description('remove a machine (refused while it has waiting or running tasks)')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await client.request('DELETE', `/machines/${encodeURIComponent(name)}`);
      if (format === 'json') return printJson({ name, deleted: true });
      process.stdout.write(`deleted machine ${name}\n`);
    });
}
