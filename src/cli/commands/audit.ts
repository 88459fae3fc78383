import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { contextOf } from '../context.js';
import { CliError, usage } from '../errors.js';
import { printJson, printTable, truncate } from '../output.js';
import { parseCount } from './task-input.js';

interface AuditRecord {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  team: string | null;
  source: string | null;
  outcome: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

interface Filters {
  actor?: string;
  action?: string;
  team?: string;
  since?: string;
  until?: string;
}

function query(f: Filters, after: number, limit: number): string {
  const q = new URLSearchParams();
  for (const k of ['actor', 'action', 'team', 'since', 'until'] as const) {
    const value = f[k];
    if (value === undefined) continue;
    if ((k === 'since' || k === 'until') && Number.isNaN(Date.parse(value)))
      throw usage(`--${k} takes an ISO date or time, got '${value}'`);
    q.set(k, k === 'since' || k === 'until' ? new Date(value).toISOString() : value);
  }
  q.set('after', String(after));
  q.set('limit', String(limit));
  return q.toString();
}

async function* all(client: ApiClient, f: Filters): AsyncGenerator<AuditRecord> {
  let after = 0;
  for (;;) {
    const page = await client.get<AuditRecord[]>(`/audit?${query(f, after, 5000)}`);
    yield* page;
    if (page.length < 5000) return;
    after = page.at(-1)?.id ?? after;
  }
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log (admin)');
  const filters = (c: Command) =>
    c
      .option('--actor <who>', 'email or bridge:NAME')
      .option('--action <action>', 'e.g. tasks.create, vault (matches vault.*)')
      .option('--team <team>')
      .option('--since <time>', 'ISO date or time')
      .option('--until <time>', 'ISO date or time');

  filters(audit.command('list').description('audit records, oldest first'))
    .option('--limit <n>', 'most records (default 100)')
    .action(async (flags: Filters & { limit?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const limit = flags.limit === undefined ? 100 : parseCount(flags.limit, '--limit', 5000);
      const records = await client.get<AuditRecord[]>(`/audit?${query(flags, 0, limit)}`);
      if (format === 'json') return printJson(records);
      printTable(
        ['ID', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'TEAM', 'OUTCOME', 'SOURCE'],
        records.map((r) => [
          r.id,
          r.time,
          r.actor,
          r.action,
          truncate(r.target ?? '', 40),
          r.team,
          r.outcome,
          r.source,
        ]),
      );
    });

  audit
    .command('verify')
    .description('recompute the hash chain; fails at the first record that was changed, removed or inserted')
    .action(async (_f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const res = await client.get<{ ok: boolean; checked: number; brokenAt?: number; problem?: string }>(
        '/audit/verify',
      );
      if (format === 'json') printJson(res);
      else if (res.ok) process.stdout.write(`audit log intact: ${res.checked} record(s) verified\n`);
      if (!res.ok)
        throw new CliError(
          'AUDIT_CHAIN_BROKEN',
          `audit log broken at record ${res.brokenAt}: ${res.problem}`,
          1,
        );
    });

  filters(
    audit
      .command('export')
      .description('write records as JSON lines (one object per record, with its hashes) for archiving'),
  )
    .option('--file <file>', 'write to this file instead of standard output')
    .action(async (flags: Filters & { file?: string }, cmd: Command) => {
      const { client } = contextOf(cmd);
      const out = flags.file === undefined ? process.stdout : createWriteStream(flags.file, { mode: 0o600 });
      let n = 0;
      for await (const r of all(client, flags)) {
        out.write(`${JSON.stringify(r)}\n`);
        n += 1;
      }
      if (out !== process.stdout)
        await new Promise((done) => (out as ReturnType<typeof createWriteStream>).end(done));
      if (flags.file !== undefined) process.stderr.write(`exported ${n} record(s) to ${flags.file}\n`);
    });
}
