import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import ssh2 from 'ssh2';
import { contextOf, type Verbs } from '../context.js';
import { CliError, usage } from '../errors.js';
import { age, printFields, printJson, printTable } from '../output.js';
import { followTask } from './follow.js';
import { registerRotateKey } from './rotate-key.js';
import { parseCount, parseLabels } from './task-input.js';
import { storeVaultValue } from './vault.js';

function bytes(used: number | null, total: number | null): string | null {
  if (used === null || total === null) return null;
  const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
  return `${gib(used)} / ${gib(total)} (${Math.round((used / total) * 100)}%)`;
}

interface ApiMachine {
  status: string;
  statusSince: string | null;
  lastError: string | null;
  hostKeyFingerprint: string | null;
  keyCreatedAt: string | null;
  health: {
    cpuPercent: number | null;
    load1: number | null;
    memUsedBytes: number | null;
    memTotalBytes: number | null;
    diskUsedBytes: number | null;
    diskTotalBytes: number | null;
  } | null;
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

interface SshFlags {
  sshKeyFile?: string;
  hostKey?: string;
  masterPasswordFile?: string;
}

/** Reads and checks an SSH private key file (OpenSSH or PEM, no passphrase). */
function readSshKey(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usage(`--ssh-key-file: ${(err as Error).message}`, '--ssh-key-file');
  }
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error || Array.isArray(parsed) || !parsed.isPrivateKey()) {
    throw usage(`--ssh-key-file ${file} is not an unencrypted SSH private key`, '--ssh-key-file');
  }
  return text;
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
    [
      'status',
      `${m.status}${m.statusSince === null ? '' : ` since ${m.statusSince}`}${m.lastError === null ? '' : ` (${m.lastError})`}`,
    ],
    ['cpu', m.health === null || m.health.cpuPercent === null ? null : `${m.health.cpuPercent}%`],
    ['load', m.health?.load1 ?? null],
    ['memory', m.health === null ? null : bytes(m.health.memUsedBytes, m.health.memTotalBytes)],
    ['disk /', m.health === null ? null : bytes(m.health.diskUsedBytes, m.health.diskTotalBytes)],
    ['host key', m.hostKeyFingerprint],
    ['key age', m.keyCreatedAt === null ? null : age(m.keyCreatedAt)],
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
      .option('--transport <kind>', 'local (runs on the bridge host) or ssh')
      .option(
        '--ssh-key-file <file>',
        'private key for SSH; it is encrypted here into the team vault as ssh/NAME',
      )
      .option(
        '--host-key <key>',
        'pin this host key ("ssh-ed25519 AAAA…"); else the first one seen is pinned',
      )
      .option(
        '--master-password-file <file>',
        'vault master password (else REDIACC_MASTER_PASSWORD or a prompt)',
      ),
  ).action(async (name: string, flags: MachineFlags & SshFlags, cmd: Command) => {
    const { client, format } = contextOf(cmd);
    const body = {
      name,
      ...machineBody(flags),
      ...(flags.hostKey === undefined ? {} : { hostKey: flags.hostKey }),
    };
    if (flags.sshKeyFile !== undefined) {
      const key = readSshKey(flags.sshKeyFile);
      await storeVaultValue(client, flags.team ?? 'default', `ssh/${name}`, key, flags.masterPasswordFile);
    }
    const m = await client.post<ApiMachine>('/machines', body);
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
        ['NAME', 'TEAM', 'REGION', 'TRANSPORT', 'STATUS', 'RUNNING', 'PENDING', 'CPU', 'MEM', 'LABELS'],
        machines.map((m) => [
          m.name,
          m.team,
          m.region,
          m.transport,
          m.status,
          `${m.running}/${m.concurrency}`,
          m.pending,
          m.health?.cpuPercent === null || m.health === null ? null : `${m.health.cpuPercent}%`,
          m.health === null || m.health.memUsedBytes === null || m.health.memTotalBytes === null
            ? null
            : `${Math.round((m.health.memUsedBytes / m.health.memTotalBytes) * 100)}%`,
          Object.entries(m.labels)
            .map(([k, x]) => `${k}=${x}`)
            .join(','),
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

  const machine = v.program.command('machine').description('machine operations');
  registerRotateKey(machine);
  machine
    .command('test <name>')
    .description(
      'run `uname -a` on the machine now (priority 1) and print its host key fingerprint and timing',
    )
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const t0 = Date.now();
      const task = await client.post<{ taskId: string }>('/tasks', {
        machine: name,
        priority: 1,
        command: 'uname -a',
      });
      const ended = await followTask(client, task.taskId, null);
      const logs = await client.get<{ chunks: { stream: string; data: string }[] }>(
        `/tasks/${task.taskId}/logs`,
      );
      const m = await client.get<ApiMachine>(`/machines/${encodeURIComponent(name)}`);
      const result = {
        machine: name,
        ok: ended.status === 'completed',
        reason: ended.reason,
        hostKeyFingerprint: m.hostKeyFingerprint,
        uname: logs.chunks
          .filter((c) => c.stream === 'stdout')
          .map((c) => c.data)
          .join('')
          .trim(),
        runMs:
          ended.startedAt && ended.finishedAt
            ? Date.parse(ended.finishedAt) - Date.parse(ended.startedAt)
            : null,
        totalMs: Date.now() - t0,
      };
      if (format === 'json') printJson(result);
      else {
        printFields([
          ['machine', name],
          ['result', result.ok ? 'ok' : `failed (${result.reason})`],
          ['host key', result.hostKeyFingerprint],
          ['uname -a', result.uname],
          ['command round trip', result.runMs === null ? null : `${result.runMs} ms`],
          ['total (queue + run)', `${result.totalMs} ms`],
        ]);
      }
      if (!result.ok)
        throw new CliError('MACHINE_TEST_FAILED', `machine ${name} failed the test: ${result.reason}`, 1);
    });

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
