import { notFound } from '../../core/errors.js';
import type { FleetStore, HealthPoint, HealthReport } from '../store.js';
import type { PgDb } from './pg-connection.js';

const MINUTE_MS = 60_000;

export class PgFleet implements FleetStore {
  constructor(private readonly db: PgDb) {}

  async pinHostKey(machine: string, hostKey: string, now: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      const n = await q.run(
        'UPDATE machines SET host_key = $1, updated_at = $2 WHERE name = $3 AND host_key IS NULL',
        [hostKey, now, machine],
      );
      if (n > 0) return true;
      const cur = await q.one<{ host_key: string | null }>('SELECT host_key FROM machines WHERE name = $1', [
        machine,
      ]);
      return cur?.host_key === hostKey;
    });
  }

  async recordHealth(
    reports: readonly HealthReport[],
    now: number,
  ): Promise<{ machine: string; team: string; status: 'online' }[]> {
    if (reports.length === 0) return [];
    return this.db.tx(async (q) => {
      // All rows locked at once, in id order, before any is written.
      const found = await q.rows<{ id: number; name: string; status: string; team: string }>(
        `SELECT m.id, m.name, m.status, t.name AS team FROM machines m JOIN teams t ON t.id = m.team_id
         WHERE m.name = ANY($1::text[]) ORDER BY m.id FOR NO KEY UPDATE OF m`,
        [[...new Set(reports.map((r) => r.machine))]],
      );
      const byName = new Map(found.map((m) => [m.name, m]));
      const back: { machine: string; team: string; status: 'online' }[] = [];
      for (const r of reports) {
        const m = byName.get(r.machine);
        if (m === undefined) continue;
        if (!r.ok) {
          await q.run('UPDATE machines SET last_error = $1 WHERE id = $2', [r.error ?? 'unreachable', m.id]);
          continue;
        }
        await q.run(
          `UPDATE machines SET last_ok_at = $1, last_error = NULL, health_at = $1, cpu_percent = $2, load1 = $3,
           mem_used = $4, mem_total = $5, disk_used = $6, disk_total = $7,
           status_since = CASE WHEN status = 'online' THEN status_since ELSE $8 END, status = 'online' WHERE id = $9`,
          [
            r.at,
            r.cpuPercent,
            r.load1,
            r.memUsedBytes,
            r.memTotalBytes,
            r.diskUsedBytes,
            r.diskTotalBytes,
            now,
            m.id,
          ],
        );
        await q.run(
          `INSERT INTO machine_health (machine_id, minute, cpu_percent, load1, mem_used, mem_total, disk_used,
             disk_total) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (machine_id, minute) DO UPDATE SET cpu_percent = excluded.cpu_percent,
             load1 = excluded.load1, mem_used = excluded.mem_used, mem_total = excluded.mem_total,
             disk_used = excluded.disk_used, disk_total = excluded.disk_total`,
          [
            m.id,
            Math.floor(r.at / MINUTE_MS),
            r.cpuPercent,
            r.load1,
            r.memUsedBytes,
            r.memTotalBytes,
            r.diskUsedBytes,
            r.diskTotalBytes,
          ],
        );
        if (m.status === 'offline') {
          await q.run(
            `INSERT INTO alerts (team_id, kind, machine_name, message, created_at)
             SELECT team_id, 'machine_online', name, $1, $2 FROM machines WHERE id = $3`,
            [`machine ${r.machine} is back online`, now, m.id],
          );
          back.push({ machine: r.machine, team: m.team, status: 'online' });
        }
        m.status = 'online';
      }
      return back;
    });
  }

  async markOffline(
    now: number,
    offlineAfterMs: number,
  ): Promise<{ machine: string; team: string; region: string }[]> {
    return this.db.tx(async (q) => {
      // A machine never seen healthy counts from when it was created. SKIP LOCKED: a machine
      // another replica is marking (or a health report is updating) is left to it.
      const rows = await q.rows<{
        id: number;
        name: string;
        team: string;
        region: string;
        last_error: string;
      }>(
        `SELECT m.id, m.name, t.name AS team, r.name AS region, m.last_error FROM machines m
         JOIN teams t ON t.id = m.team_id JOIN regions r ON r.id = m.region_id
         WHERE m.status != 'offline' AND m.last_error IS NOT NULL AND COALESCE(m.last_ok_at, m.created_at) < $1
         ORDER BY m.id FOR NO KEY UPDATE OF m SKIP LOCKED`,
        [now - offlineAfterMs],
      );
      for (const r of rows) {
        await q.run(`UPDATE machines SET status = 'offline', status_since = $1 WHERE id = $2`, [now, r.id]);
        await q.run(
          `INSERT INTO alerts (team_id, kind, machine_name, message, created_at)
           SELECT team_id, 'machine_offline', name, $1, $2 FROM machines WHERE id = $3`,
          [`machine ${r.name} is offline: ${r.last_error}`, now, r.id],
        );
      }
      return rows.map((r) => ({ machine: r.name, team: r.team, region: r.region }));
    });
  }

  healthHistory(machine: string, sinceMinute: number): Promise<HealthPoint[]> {
    return this.db.rows(
      `SELECT h.minute, h.cpu_percent AS "cpuPercent", h.load1, h.mem_used AS "memUsedBytes",
         h.mem_total AS "memTotalBytes", h.disk_used AS "diskUsedBytes", h.disk_total AS "diskTotalBytes"
       FROM machine_health h JOIN machines m ON m.id = h.machine_id
       WHERE m.name = $1 AND h.minute >= $2 ORDER BY h.minute`,
      [machine, sinceMinute],
    );
  }

  async pruneHealth(beforeMinute: number): Promise<void> {
    await this.db.run('DELETE FROM machine_health WHERE minute < $1', [beforeMinute]);
  }

  async setMaxKeyAge(team: string, days: number | null): Promise<void> {
    const n = await this.db.run('UPDATE teams SET max_key_age_days = $1 WHERE name = $2', [days, team]);
    if (n === 0) throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
  }

  async getMaxKeyAge(team: string): Promise<number | null> {
    const r = await this.db.one<{ d: number | null }>(
      'SELECT max_key_age_days AS d FROM teams WHERE name = $1',
      [team],
    );
    return r?.d ?? null;
  }

  async alertOldKeys(now: number): Promise<string[]> {
    return this.db.tx(async (q) => {
      const old = await q.rows<{ id: number; name: string; team_id: number; key_created_at: number }>(
        `SELECT m.id, m.name, m.team_id, m.key_created_at FROM machines m JOIN teams t ON t.id = m.team_id
         WHERE t.max_key_age_days IS NOT NULL AND m.key_created_at IS NOT NULL
           AND m.key_created_at < $1 - t.max_key_age_days * 86400000
           AND (m.key_alerted_at IS NULL OR m.key_alerted_at < m.key_created_at)
         ORDER BY m.id FOR NO KEY UPDATE OF m SKIP LOCKED`,
        [now],
      );
      for (const m of old) {
        const days = Math.floor((now - m.key_created_at) / 86_400_000);
        await q.run(
          `INSERT INTO alerts (team_id, kind, machine_name, message, created_at) VALUES ($1, 'ssh_key_old', $2, $3, $4)`,
          [
            m.team_id,
            m.name,
            `the SSH key of ${m.name} is ${days} days old; rotate it (rediacc machine rotate-key ${m.name})`,
            now,
          ],
        );
        await q.run('UPDATE machines SET key_alerted_at = $1 WHERE id = $2', [now, m.id]);
      }
      return old.map((m) => m.name);
    });
  }

  async setKeyCreatedAt(machine: string, at: number): Promise<void> {
    await this.db.run('UPDATE machines SET key_created_at = $1 WHERE name = $2', [at, machine]);
  }
}
