import type { NewWebSession, QueuePlace, WebSession, WebStore } from '../web-store.js';
import type { Statements } from './connection.js';

interface SessionRow {
  id: number;
  user_id: number;
  email: string;
  is_admin: number;
  token_hash: string | null;
  created_at: number;
  last_seen_at: number;
  idle_expires_at: number;
  expires_at: number;
}

export class SqliteWeb implements WebStore {
  constructor(private readonly st: Statements) {}

  async createSession(s: NewWebSession): Promise<void> {
    this.st
      .get(
        `INSERT INTO web_sessions (hash, user_id, token_hash, created_at, last_seen_at, idle_expires_at, expires_at,
         source, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(s.hash, s.userId, s.tokenHash, s.now, s.now, s.idleExpiresAt, s.expiresAt, s.source, s.userAgent);
  }

  async findSession(hash: string, now: number): Promise<WebSession | null> {
    const r = this.st
      .get(
        `SELECT s.id, s.user_id, u.email, u.is_admin, s.token_hash, s.created_at, s.last_seen_at, s.idle_expires_at,
         s.expires_at FROM web_sessions s JOIN users u ON u.id = s.user_id LEFT JOIN tokens t ON t.hash = s.token_hash
         WHERE s.hash = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND s.idle_expires_at > ? AND u.disabled = 0
         AND (s.token_hash IS NULL OR (t.id IS NOT NULL AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)))`,
      )
      .get(hash, now, now, now) as SessionRow | undefined;
    return r === undefined ? null : toSession(r);
  }

  async touchSession(id: number, now: number, idleExpiresAt: number): Promise<void> {
    this.st
      .get(
        'UPDATE web_sessions SET last_seen_at = ?, idle_expires_at = ? WHERE id = ? AND revoked_at IS NULL',
      )
      .run(now, idleExpiresAt, id);
  }

  async endSession(hash: string, now: number): Promise<boolean> {
    const r = this.st
      .get('UPDATE web_sessions SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL AND expires_at > ?')
      .run(now, hash, now);
    return r.changes > 0;
  }

  async pruneSessions(before: number): Promise<number> {
    return this.st
      .get('DELETE FROM web_sessions WHERE expires_at < ? OR idle_expires_at < ? OR revoked_at < ?')
      .run(before, before, before).changes;
  }

  async failedSince(since: number): Promise<{ team: string; failed: number }[]> {
    return this.st
      .get(
        `SELECT tm.name AS team, COUNT(*) AS failed FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.status = 'failed' AND t.finished_at >= ? GROUP BY tm.name ORDER BY tm.name`,
      )
      .all(since) as { team: string; failed: number }[];
  }

  async queuePlace(taskId: string): Promise<QueuePlace | null> {
    const me = this.st
      .get(
        `SELECT t.seq, t.priority, t.machine_id, t.region_id, t.batch_id, m.name AS machine, r.name AS region
         FROM tasks t JOIN regions r ON r.id = t.region_id LEFT JOIN machines m ON m.id = t.machine_id
         WHERE t.task_id = ? AND t.status = 'pending'`,
      )
      .get(taskId) as
      | {
          seq: number;
          priority: number;
          machine_id: number | null;
          region_id: number;
          batch_id: string | null;
          machine: string | null;
          region: string;
        }
      | undefined;
    if (me === undefined) return null;
    const before = '(priority < ? OR (priority = ? AND seq < ?))';
    const ahead = (
      me.machine_id === null
        ? this.st
            .get(
              `SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending' AND machine_id IS NULL AND region_id = ? AND ${before}`,
            )
            .get(me.region_id, me.priority, me.priority, me.seq)
        : this.st
            .get(`SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending' AND machine_id = ? AND ${before}`)
            .get(me.machine_id, me.priority, me.priority, me.seq)
    ) as { n: number };
    const limits =
      me.batch_id === null
        ? undefined
        : (this.st
            .get('SELECT max_running, running, halted_at FROM batch_limits WHERE batch_id = ?')
            .get(me.batch_id) as
            | { max_running: number | null; running: number; halted_at: number | null }
            | undefined);
    return {
      ahead: ahead.n,
      machine: me.machine_id === null ? null : me.machine,
      region: me.region,
      batch:
        limits === undefined
          ? null
          : { maxRunning: limits.max_running, running: limits.running, halted: limits.halted_at !== null },
    };
  }
}

function toSession(r: SessionRow): WebSession {
  return {
    id: r.id,
    userId: r.user_id,
    email: r.email,
    isAdmin: r.is_admin === 1,
    viaToken: r.token_hash !== null,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    idleExpiresAt: r.idle_expires_at,
    expiresAt: r.expires_at,
  };
}
