import Database from 'better-sqlite3';
import pg from 'pg';
import { AppError } from '../core/errors.js';
import { PostgresStore } from './postgres/postgres-store.js';

/** Tables in an order that satisfies their references. */
const TABLES = [
  'meta',
  'users',
  'teams',
  'regions',
  'bridges',
  'tokens',
  'machines',
  'tasks',
  'attempts',
  'output_chunks',
  'alerts',
  'queue_counters',
  'team_members',
  'vault_master',
  'vault_team_keys',
  'vault_secrets',
  'audit_log',
  'machine_health',
  'batch_limits',
  'idempotency_keys',
  'channels',
  'team_alert_rules',
  'alert_conditions',
  'alert_deliveries',
  'schedules',
  'queue_samples',
];
const MAX_PARAMS = 60_000;

/**
 * Copies a SQLite store into an empty PostgreSQL database, row by row with
 * the same ids, in one PostgreSQL transaction: tasks, output, vault
 * ciphertext, and the audit log with its hashes, so its chain still verifies.
 * The SQLite file is only read (stop the server first).
 */
export async function migrateStore(
  sqlitePath: string,
  postgresUrl: string,
  progress: (table: string, rows: number) => void = () => {},
): Promise<{ table: string; rows: number }[]> {
  const target = new PostgresStore(postgresUrl);
  await target.migrate();
  await target.close();
  const src = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  const copied: { table: string; rows: number }[] = [];
  try {
    const used = await client.query(
      'SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM audit_log) AS n',
    );
    if (Number(used.rows[0].n) > 0) {
      throw new AppError(
        'TARGET_NOT_EMPTY',
        'the PostgreSQL database already holds tasks or audit records',
        409,
      );
    }
    await client.query('BEGIN');
    // The quick start's first-start rows (admin, team default, …) exist in both: start clean.
    for (const table of [...TABLES].reverse()) await client.query(`DELETE FROM ${table}`);
    for (const table of TABLES) {
      const rows = await copyTable(src, client, table);
      copied.push({ table, rows });
      progress(table, rows);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end();
    src.close();
  }
  return copied;
}

async function copyTable(src: Database.Database, client: pg.Client, table: string): Promise<number> {
  const sqliteCols = new Set(
    (src.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name),
  );
  if (sqliteCols.size === 0) return 0;
  const target = await client.query(
    `SELECT column_name, data_type, is_identity FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  const cols = (target.rows as { column_name: string; data_type: string; is_identity: string }[]).filter(
    (c) => sqliteCols.has(c.column_name),
  );
  const convert = cols.map((c) => converter(c.data_type));
  const perInsert = Math.max(1, Math.floor(MAX_PARAMS / cols.length));
  let batch: unknown[][] = [];
  let total = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const values = batch
      .map((_, r) => `(${cols.map((__, c) => `$${r * cols.length + c + 1}`).join(', ')})`)
      .join(', ');
    await client.query(
      `INSERT INTO ${table} (${cols.map((c) => c.column_name).join(', ')}) VALUES ${values}`,
      batch.flat(),
    );
    total += batch.length;
    batch = [];
  };
  const read = src.prepare(`SELECT ${cols.map((c) => c.column_name).join(', ')} FROM ${table}`).raw(true);
  for (const row of read.iterate() as Iterable<unknown[]>) {
    batch.push(row.map((v, i) => (convert[i] as (v: unknown) => unknown)(v)));
    if (batch.length >= perInsert) await flush();
  }
  await flush();
  // Identity columns go on after the highest id copied.
  for (const c of cols.filter((x) => x.is_identity === 'YES')) {
    await client.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(1, COALESCE((SELECT MAX(${c.column_name}) FROM ${table}), 0)), (SELECT COUNT(*) > 0 FROM ${table}))`,
      [table, c.column_name],
    );
  }
  return total;
}

function converter(type: string): (v: unknown) => unknown {
  if (type === 'boolean') return (v) => (v === null ? null : Boolean(v));
  if (type === 'bytea')
    return (v) => (v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8'));
  return (v) => v;
}
