import type { NewWebSession, QueuePlace, WebSession, WebStore } from '../web-store.js';
import type { PgDb } from './pg-connection.js';

interface SessionRow {
  id: number;
  user_id: number;
  email: string;
  is_admin: boolean;
  token_hash: string | null;
  created_at: number;
  last_seen_at: number;
  idle_expires_at: number;
  expires_at: number;
}

export class PgWeb implements WebStore {
  constructor(private readonly db: PgDb) {}

  async createSession(s: NewWebSession): Promise<void> {
    await this.db.run(
      `INSERT INTO web_sessions (hash, user_id, token_hash, created_at, last_seen_at, idle_expires_at, expires_at,
       source, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8)`,
      [s.hash, s.userId, s.tokenHash, s.now, s.idleExpiresAt, s.expiresAt, s.source, s.userAgent],
    );
  }

  async findSession(hash: string, now: number): Promise<WebSession | null> {
    const r = await this.db.one<SessionRow>(
      `SELECT s.id, s.user_id, u.email, u.is_admin, s.token_hash, s.created_at, s.last_seen_at, s.idle_expires_at,
       s.expires_at FROM web_sessions s JOIN users u ON u.id = s.user_id LEFT JOIN tokens t ON t.hash = s.token_hash
       WHERE s.hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.idle_expires_at > $2 AND NOT u.disabled
       AND (s.token_hash IS NULL OR (t.id IS NOT NULL AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)))`,
      [hash, now],
    );
    return r === undefined ? null : toSession(r);
  }

  async touchSession(id: number, now: number, idleExpiresAt: number): Promise<void> {
    await this.db.run(
      'UPDATE web_sessions SET last_seen_at = $1, idle_expires_at = $2 WHERE id = $3 AND revoked_at IS NULL',
      [now, idleExpiresAt, id],
    );
  }

  async endSession(hash: string, now: number): Promise<boolean> {
    const n = await this.db.run(
      'UPDATE web_sessions SET revoked_at = $1 WHERE hash = $2 AND revoked_at IS NULL AND expires_at > $1',
      [now, hash],
    );
    return n > 0;
  }

  async pruneSessions(before: number): Promise<number> {
    return this.db.run(
      'DELETE FROM web_sessions WHERE expires_at < $1 OR idle_expires_at < $1 OR revoked_at < $1',
      [before],
    );
  }

  async failedSince(since: number): Promise<{ team: string; failed: number }[]> {
    return this.db.rows<{ team: string; failed: number }>(
      `SELECT tm.name AS team, COUNT(*) AS failed FROM tasks t JOIN teams tm ON tm.id = t.team_id
       WHERE t.status = 'failed' AND t.finished_at >= $1 GROUP BY tm.name ORDER BY tm.name`,
      [since],
    );
  }

  async queuePlace(taskId: string): Promise<QueuePlace | null> {
    return this.db.tx(async (q) => {
      const me = await q.one<{
        seq: number;
        priority: number;
        machine_id: number | null;
        region_id: number;
        batch_id: string | null;
        machine: string | null;
        region: string;
      }>(
        `SELECT t.seq, t.priority, t.machine_id, t.region_id, t.batch_id, m.name AS machine, r.name AS region
         FROM tasks t JOIN regions r ON r.id = t.region_id LEFT JOIN machines m ON m.id = t.machine_id
         WHERE t.task_id = $1 AND t.status = 'pending'`,
        [taskId],
      );
      if (me === undefined) return null;
      const before = '(priority < $2 OR (priority = $2 AND seq < $3))';
      const ahead =
        me.machine_id === null
          ? await q.one<{ n: number }>(
              `SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending' AND machine_id IS NULL AND region_id = $1 AND ${before}`,
              [me.region_id, me.priority, me.seq],
            )
          : await q.one<{ n: number }>(
              `SELECT COUNT(*) AS n FROM tasks WHERE status = 'pending' AND machine_id = $1 AND ${before}`,
              [me.machine_id, me.priority, me.seq],
            );
      const limits =
        me.batch_id === null
          ? undefined
          : await q.one<{ max_running: number | null; running: number; halted_at: number | null }>(
              'SELECT max_running, running, halted_at FROM batch_limits WHERE batch_id = $1',
              [me.batch_id],
            );
      return {
        ahead: ahead?.n ?? 0,
        machine: me.machine_id === null ? null : me.machine,
        region: me.region,
        batch:
          limits === undefined
            ? null
            : { maxRunning: limits.max_running, running: limits.running, halted: limits.halted_at !== null },
      };
    });
  }
}

function toSession(r: SessionRow): WebSession {
  return {
    id: r.id,
    userId: r.user_id,
    email: r.email,
    isAdmin: r.is_admin,
    viaToken: r.token_hash !== null,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    idleExpiresAt: r.idle_expires_at,
    expiresAt: r.expires_at,
  };
}
