import { GENESIS_HASH, hashRecord } from '../../audit/chain.js';
import type { AuditEntry, AuditFilter, AuditRecord, AuditStore } from '../store.js';
import { LOCK_SPACE, LOCKS, type PgDb } from './pg-connection.js';

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  team: string | null;
  source: string | null;
  outcome: 'ok' | 'denied' | 'failed';
  details: string;
  prev_hash: string;
  hash: string;
}

/**
 * The hash chain on PostgreSQL. Appends from every replica take one advisory
 * lock, so each reads the head the previous one wrote and the chain never forks.
 */
export class PgAudit implements AuditStore {
  constructor(private readonly db: PgDb) {}

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.db.tx(async (q) => {
      await q.run('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_SPACE, LOCKS.audit]);
      // Read after the lock: a statement's snapshot then holds the previous appender's commit.
      const last = await q.one<{ id: number; hash: string }>(
        'SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1',
      );
      let prevHash = last?.hash ?? GENESIS_HASH;
      let id = last?.id ?? 0;
      const rows: unknown[][] = [];
      for (const e of entries) {
        id += 1;
        const hash = hashRecord(prevHash, id, e);
        rows.push([
          id,
          e.at,
          e.actor,
          e.action,
          e.target,
          e.team,
          e.source,
          e.outcome,
          JSON.stringify(e.details),
          prevHash,
          hash,
        ]);
        prevHash = hash;
      }
      const column = (i: number) => rows.map((r) => r[i]);
      await q.run(
        `INSERT INTO audit_log (id, at, actor, action, target, team, source, outcome, details, prev_hash, hash)
         SELECT * FROM unnest($1::bigint[], $2::float8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
           $8::text[], $9::text[], $10::text[], $11::text[])`,
        Array.from({ length: 11 }, (_, i) => column(i)),
      );
      await q.run(
        `INSERT INTO meta (key, value) VALUES ('audit.head', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [`${id}:${prevHash}`],
      );
    });
  }

  async head(): Promise<{ id: number; hash: string } | null> {
    const r = await this.db.one<{ value: string }>(`SELECT value FROM meta WHERE key = 'audit.head'`);
    if (r === undefined) return null;
    const [id, hash] = r.value.split(':');
    return { id: Number(id), hash: hash ?? '' };
  }

  async list(f: AuditFilter): Promise<AuditRecord[]> {
    const args: unknown[] = [
      f.newestFirst === true ? (f.beforeId ?? Number.MAX_SAFE_INTEGER) : (f.afterId ?? 0),
    ];
    const where: string[] = f.newestFirst === true ? ['id < $1'] : ['id > $1'];
    const add = (sql: (...p: string[]) => string, ...values: unknown[]) => {
      const placeholders = values.map((v) => {
        args.push(v);
        return `$${args.length}`;
      });
      where.push(sql(...placeholders));
    };
    if (f.actor !== undefined) add((p) => `actor = ${p}`, f.actor);
    // An action filter matches the action and everything under it: `vault` finds `vault.set`.
    // ILIKE: SQLite's LIKE ignores the case of ASCII letters too.
    if (f.action !== undefined)
      add((a, b) => `(action = ${a} OR action ILIKE ${b})`, f.action, `${f.action}.%`);
    if (f.team !== undefined) add((p) => `team = ${p}`, f.team);
    if (f.since !== undefined) add((p) => `at >= ${p}`, f.since);
    if (f.until !== undefined) add((p) => `at < ${p}`, f.until);
    // A target ending in * matches every target that starts with the rest (no other wildcard).
    const prefix = f.target?.endsWith('*') === true ? f.target.slice(0, -1) : undefined;
    if (prefix !== undefined) add((n, p) => `left(target, ${n}) = ${p}`, prefix.length, prefix);
    else if (f.target !== undefined) add((p) => `target = ${p}`, f.target);
    args.push(f.limit);
    const rows = await this.db.rows<AuditRow>(
      `SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id ${f.newestFirst === true ? 'DESC' : ''} LIMIT $${args.length}`,
      args,
    );
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      actor: r.actor,
      action: r.action,
      target: r.target,
      team: r.team,
      source: r.source,
      outcome: r.outcome,
      details: JSON.parse(r.details) as Record<string, unknown>,
      prevHash: r.prev_hash,
      hash: r.hash,
    }));
  }
}
