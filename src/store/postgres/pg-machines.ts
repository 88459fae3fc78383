import { conflict, notFound } from '../../core/errors.js';
import type { Machine, Region } from '../../core/types.js';
import type { MachinePatch, NewMachine } from '../store.js';
import type { PgDb, Q } from './pg-connection.js';
import {
  inTeams,
  MACHINE_SELECT,
  type MachineRow,
  type TeamRow,
  toMachine,
  toTeam,
  uniqueOr,
} from './pg-rows.js';

/** Machines on PostgreSQL. */
export class PgMachines {
  constructor(private readonly db: PgDb) {}

  async createMachine(m: NewMachine, now: number): Promise<Machine> {
    return this.db.tx(async (q) => {
      // KEY SHARE: the team cannot be deleted until this machine is in.
      const team = await q.one<{ id: number }>('SELECT id FROM teams WHERE name = $1 FOR KEY SHARE', [
        m.team,
      ]);
      if (team === undefined) throw notFound('TEAM_NOT_FOUND', `team '${m.team}' does not exist`);
      const region = await q.one<{ id: number }>('SELECT id FROM regions WHERE name = $1', [m.region]);
      if (region === undefined)
        throw notFound('REGION_NOT_FOUND', `region '${m.region}' does not exist; create it first`);
      try {
        await q.run(
          `INSERT INTO machines (name, team_id, region_id, transport, concurrency, labels, host, port, ssh_user,
             created_at, updated_at, host_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)`,
          [
            m.name,
            team.id,
            region.id,
            m.transport,
            m.concurrency,
            JSON.stringify(m.labels),
            m.host,
            m.port,
            m.user,
            now,
            m.hostKey ?? null,
          ],
        );
      } catch (err) {
        throw uniqueOr(err, conflict('MACHINE_EXISTS', `machine '${m.name}' already exists`));
      }
      return toMachine(
        (await q.one<MachineRow>(`${MACHINE_SELECT} WHERE m.name = $1`, [m.name])) as MachineRow,
      );
    });
  }

  async getMachine(name: string): Promise<Machine | null> {
    const r = await this.db.one<MachineRow>(`${MACHINE_SELECT} WHERE m.name = $1`, [name]);
    return r === undefined ? null : toMachine(r);
  }

  async listMachines(filter: {
    team?: string;
    region?: string;
    teams?: ReadonlySet<string> | null;
  }): Promise<Machine[]> {
    const rows = await this.db.rows<MachineRow>(
      `${MACHINE_SELECT} WHERE ($1::text IS NULL OR tm.name = $1) AND ($2::text IS NULL OR r.name = $2)
       ORDER BY m.name`,
      [filter.team ?? null, filter.region ?? null],
    );
    return rows.map(toMachine).filter((m) => inTeams(m.team, filter.teams));
  }

  async updateMachine(name: string, patch: MachinePatch, now: number): Promise<Machine> {
    return this.db.tx(async (q) => {
      const current = await q.one<{ id: number }>('SELECT id FROM machines WHERE name = $1', [name]);
      if (current === undefined) throw notFound('MACHINE_NOT_FOUND', `machine '${name}' does not exist`);
      const regionId = patch.region === undefined ? null : (await ensureRegion(q, patch.region, now)).id;
      await q.run(
        `UPDATE machines SET concurrency = COALESCE($1, concurrency), labels = COALESCE($2, labels),
         region_id = COALESCE($3, region_id), host = COALESCE($4, host), port = COALESCE($5, port),
         ssh_user = COALESCE($6, ssh_user), host_key = COALESCE($7, host_key), updated_at = $8 WHERE id = $9`,
        [
          patch.concurrency ?? null,
          patch.labels === undefined ? null : JSON.stringify(patch.labels),
          regionId,
          patch.host ?? null,
          patch.port ?? null,
          patch.user ?? null,
          patch.hostKey ?? null,
          now,
          current.id,
        ],
      );
      return toMachine(
        (await q.one<MachineRow>(`${MACHINE_SELECT} WHERE m.id = $1`, [current.id])) as MachineRow,
      );
    });
  }

  async deleteMachine(name: string): Promise<void> {
    await this.db.tx(async (q) => {
      // FOR UPDATE: every change of the counts below takes this row's lock, so they hold until commit.
      const m = await q.one<{ id: number; running_count: number; pending_count: number }>(
        'SELECT id, running_count, pending_count FROM machines WHERE name = $1 FOR UPDATE',
        [name],
      );
      if (m === undefined) throw notFound('MACHINE_NOT_FOUND', `machine '${name}' does not exist`);
      const retrying = await q.one(
        `SELECT 1 FROM tasks WHERE status = 'retrying' AND machine_id = $1 LIMIT 1`,
        [m.id],
      );
      if (m.running_count > 0 || m.pending_count > 0 || retrying !== undefined) {
        throw conflict('MACHINE_BUSY', `machine '${name}' has waiting or running tasks; cancel them first`);
      }
      await q.run('DELETE FROM machines WHERE id = $1', [m.id]);
    });
  }
}

export async function ensureRegion(q: Q, name: string, now: number): Promise<Region> {
  await q.run('INSERT INTO regions (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
    name,
    now,
  ]);
  return toTeam(
    (await q.one<TeamRow>('SELECT id, name, created_at FROM regions WHERE name = $1', [name])) as TeamRow,
  );
}
