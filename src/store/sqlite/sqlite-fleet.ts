import { notFound } from '../../core/errors.js';
import type { FleetStore, HealthPoint, HealthReport } from '../store.js';
import type { Statements } from './connection.js';

const MINUTE_MS = 60_000;

export class SqliteFleet implements FleetStore {
  constructor(private readonly st: Statements) {}

  async pinHostKey(machine: string, hostKey: string, now: number): Promise<boolean> {
    const r = this.st
      .get('UPDATE machines SET host_key = ?, updated_at = ? WHERE name = ? AND host_key IS NULL')
      .run(hostKey, now, machine);
    if (r.changes > 0) return true;
    const cur = this.st.get('SELECT host_key FROM machines WHERE name = ?').get(machine) as
      | { host_key: string | null }
      | undefined;
    return cur?.host_key === hostKey;
  }

  async recordHealth(
    reports: readonly HealthReport[],
    now: number,
  ): Promise<{ machine: string; team: string; status: 'online' }[]> {
    const back: { machine: string; team: string; status: 'online' }[] = [];
    this.st.db
      .transaction(() => {
        const find = this.st.get(
          'SELECT m.id, m.status, t.name AS team FROM machines m JOIN teams t ON t.id = m.team_id WHERE m.name = ?',
        );
        const ok = this.st.get(
          `UPDATE machines SET last_ok_at = ?, last_error = NULL, health_at = ?, cpu_percent = ?, load1 = ?, mem_used = ?,
           mem_total = ?, disk_used = ?, disk_total = ?,
           status_since = CASE WHEN status = 'online' THEN status_since ELSE ? END, status = 'online' WHERE id = ?`,
        );
        const failed = this.st.get('UPDATE machines SET last_error = ? WHERE id = ?');
        const history = this.st.get(
          `INSERT INTO machine_health (machine_id, minute, cpu_percent, load1, mem_used, mem_total, disk_used, disk_total)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (machine_id, minute) DO UPDATE SET cpu_percent = excluded.cpu_percent,
           load1 = excluded.load1, mem_used = excluded.mem_used, mem_total = excluded.mem_total,
           disk_used = excluded.disk_used, disk_total = excluded.disk_total`,
        );
        const alert = this.st.get(
          `INSERT INTO alerts (team_id, kind, machine_name, message, created_at)
           SELECT team_id, 'machine_online', name, ?, ? FROM machines WHERE id = ?`,
        );
        for (const r of reports) {
          const m = find.get(r.machine) as { id: number; status: string; team: string } | undefined;
          if (m === undefined) continue;
          if (!r.ok) {
            failed.run(r.error ?? 'unreachable', m.id);
            continue;
          }
          ok.run(
            r.at,
            r.at,
            r.cpuPercent,
            r.load1,
            r.memUsedBytes,
            r.memTotalBytes,
            r.diskUsedBytes,
            r.diskTotalBytes,
            now,
            m.id,
          );
          history.run(
            m.id,
            Math.floor(r.at / MINUTE_MS),
            r.cpuPercent,
            r.load1,
            r.memUsedBytes,
            r.memTotalBytes,
            r.diskUsedBytes,
            r.diskTotalBytes,
          );
          if (m.status === 'offline') {
            alert.run(`machine ${r.machine} is back online`, now, m.id);
            back.push({ machine: r.machine, team: m.team, status: 'online' });
          }
        }
      })
      .immediate();
    return back;
  }

  async markOffline(
    now: number,
    offlineAfterMs: number,
  ): Promise<{ machine: string; team: string; region: string }[]> {
    return this.st.db
      .transaction(() => {
        // A machine never seen healthy counts from when it was created.
        const rows = this.st
          .get(
            `SELECT m.id, m.name, t.name AS team, r.name AS region, m.last_error FROM machines m
             JOIN teams t ON t.id = m.team_id JOIN regions r ON r.id = m.region_id
             WHERE m.status != 'offline' AND m.last_error IS NOT NULL AND COALESCE(m.last_ok_at, m.created_at) < ?`,
          )
          .all(now - offlineAfterMs) as {
          id: number;
          name: string;
          team: string;
          region: string;
          last_error: string;
        }[];
        const mark = this.st.get(`UPDATE machines SET status = 'offline', status_since = ? WHERE id = ?`);
        const alert = this.st.get(
          `INSERT INTO alerts (team_id, kind, machine_name, message, created_at)
           SELECT team_id, 'machine_offline', name, ?, ? FROM machines WHERE id = ?`,
        );
        for (const r of rows) {
          mark.run(now, r.id);
          alert.run(`machine ${r.name} is offline: ${r.last_error}`, now, r.id);
        }
        return rows.map((r) => ({ machine: r.name, team: r.team, region: r.region }));
      })
      .immediate();
  }

  async healthHistory(machine: string, sinceMinute: number): Promise<HealthPoint[]> {
    return this.st
      .get(
        `SELECT h.minute, h.cpu_percent AS cpuPercent, h.load1, h.mem_used AS memUsedBytes, h.mem_total AS memTotalBytes,
           h.disk_used AS diskUsedBytes, h.disk_total AS diskTotalBytes
         FROM machine_health h JOIN machines m ON m.id = h.machine_id WHERE m.name = ? AND h.minute >= ? ORDER BY h.minute`,
      )
      .all(machine, sinceMinute) as HealthPoint[];
  }

  async pruneHealth(beforeMinute: number): Promise<void> {
    this.st.get('DELETE FROM machine_health WHERE minute < ?').run(beforeMinute);
  }

  async setMaxKeyAge(team: string, days: number | null): Promise<void> {
    const r = this.st.get('UPDATE teams SET max_key_age_days = ? WHERE name = ?').run(days, team);
    if (r.changes === 0) throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
  }

  async getMaxKeyAge(team: string): Promise<number | null> {
    const r = this.st.get('SELECT max_key_age_days AS d FROM teams WHERE name = ?').get(team) as
      | { d: number | null }
      | undefined;
    return r?.d ?? null;
  }

  async alertOldKeys(now: number): Promise<string[]> {
    return this.st.db
      .transaction(() => {
        const old = this.st
          .get(
            `SELECT m.id, m.name, m.team_id, m.key_created_at FROM machines m JOIN teams t ON t.id = m.team_id
             WHERE t.max_key_age_days IS NOT NULL AND m.key_created_at IS NOT NULL
               AND m.key_created_at < ? - t.max_key_age_days * 86400000
               AND (m.key_alerted_at IS NULL OR m.key_alerted_at < m.key_created_at)`,
          )
          .all(now) as { id: number; name: string; team_id: number; key_created_at: number }[];
        const alert = this.st.get(
          `INSERT INTO alerts (team_id, kind, machine_name, message, created_at) VALUES (?, 'ssh_key_old', ?, ?, ?)`,
        );
        const mark = this.st.get('UPDATE machines SET key_alerted_at = ? WHERE id = ?');
        for (const m of old) {
          const days = Math.floor((now - m.key_created_at) / 86_400_000);
          alert.run(
            m.team_id,
            m.name,
            `the SSH key of ${m.name} is ${days} days old; rotate it (rediacc machine rotate-key ${m.name})`,
            now,
          );
          mark.run(now, m.id);
        }
        return old.map((m) => m.name);
      })
      .immediate();
  }

  async setKeyCreatedAt(machine: string, at: number): Promise<void> {
    this.st.get('UPDATE machines SET key_created_at = ? WHERE name = ?').run(at, machine);
  }
}
