import { GENESIS_HASH, hashRecord } from '../../audit/chain.js';
import type { AuditEntry, AuditFilter, AuditRecord, AuditStore } from '../store.js';
import type { Statements } from './connection.js';

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

export class SqliteAudit implements AuditStore {
  constructor(private readonly st: Statements) {}

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    this.st.db
      .transaction(() => {
        const last = this.st.get('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1').get() as
          | { id: number; hash: string }
          | undefined;
        let prevHash = last?.hash ?? GENESIS_HASH;
        let id = last?.id ?? 0;
        const insert = this.st.get(
          `INSERT INTO audit_log (id, at, actor, action, target, team, source, outcome, details, prev_hash, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        for (const e of entries) {
          id += 1;
          const hash = hashRecord(prevHash, id, e);
          insert.run(
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
          );
          prevHash = hash;
        }
        this.st
          .get(
            `INSERT INTO meta (key, value) VALUES ('audit.head', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
          )
          .run(`${id}:${prevHash}`);
      })
      .immediate();
  }

  async head(): Promise<{ id: number; hash: string } | null> {
    const r = this.st.get(`SELECT value FROM meta WHERE key = 'audit.head'`).get() as
      | { value: string }
      | undefined;
    if (r === undefined) return null;
    const [id, hash] = r.value.split(':');
    return { id: Number(id), hash: hash ?? '' };
  }

  async list(f: AuditFilter): Promise<AuditRecord[]> {
    const where: string[] = f.newestFirst === true ? ['id < ?'] : ['id > ?'];
    const args: unknown[] = [
      f.newestFirst === true ? (f.beforeId ?? Number.MAX_SAFE_INTEGER) : (f.afterId ?? 0),
    ];
    const add = (sql: string, ...values: unknown[]) => {
      where.push(sql);
      args.push(...values);
    };
    if (f.actor !== undefined) add('actor = ?', f.actor);
    // An action filter matches the action and everything under it: `vault` finds `vault.set`.
    if (f.action !== undefined) add('(action = ? OR action LIKE ?)', f.action, `${f.action}.%`);
    if (f.team !== undefined) add('team = ?', f.team);
    if (f.since !== undefined) add('at >= ?', f.since);
    if (f.until !== undefined) add('at < ?', f.until);
    // A target ending in * matches every target that starts with the rest (no other wildcard).
    const prefix = f.target?.endsWith('*') === true ? f.target.slice(0, -1) : undefined;
    if (prefix !== undefined) add('substr(target, 1, ?) = ?', prefix.length, prefix);
    else if (f.target !== undefined) add('target = ?', f.target);
    const rows = this.st
      .get(
        `SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id ${f.newestFirst === true ? 'DESC' : ''} LIMIT ?`,
      )
      .all(...args, f.limit) as AuditRow[];
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
