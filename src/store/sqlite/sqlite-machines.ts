import { conflict, notFound } from '../../core/errors.js';
import type { Machine, QueueStats, Region } from '../../core/types.js';
import {
  buildQueueStats,
  type CounterRow,
  DEFAULT_BUSIEST,
  type LaneHead,
  PRIORITIES,
} from '../queue-stats.js';
import type { MachinePatch, NewMachine } from '../store.js';
import type { Statements } from './connection.js';
import { MACHINE_SELECT, type MachineRow, toMachine } from './rows.js';
import { inTeams, uniqueOr } from './util.js';

/** Machines and the queue overview on SQLite. */
export class SqliteMachines {
  constructor(
    private readonly st: Statements,
    private readonly ensureRegion: (name: string, now: number) => Promise<Region>,
  ) {}

  async createMachine(m: NewMachine, now: number): Promise<Machine> {
    const team = this.st.get('SELECT id FROM teams WHERE name = ?').get(m.team) as { id: number } | undefined;
    if (team === undefined) throw notFound('TEAM_NOT_FOUND', `team '${m.team}' does not exist`);
    const region = this.st.get('SELECT id FROM regions WHERE name = ?').get(m.region) as
      | { id: number }
      | undefined;
    if (region === undefined)
      throw notFound('REGION_NOT_FOUND', `region '${m.region}' does not exist; create it first`);
    try {
      this.st
        .get(
          `INSERT INTO machines (name, team_id, region_id, transport, concurrency, labels, host, port, ssh_user,
             created_at, updated_at, host_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
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
          now,
          m.hostKey ?? null,
        );
    } catch (err) {
      throw uniqueOr(err, conflict('MACHINE_EXISTS', `machine '${m.name}' already exists`));
    }
    return (await this.getMachine(m.name)) as Machine;
  }

  async getMachine(name: string): Promise<Machine | null> {
    const r = this.st.get(`${MACHINE_SELECT} WHERE m.name = ?`).get(name) as MachineRow | undefined;
    return r === undefined ? null : toMachine(r);
  }

  async listMachines(filter: {
    team?: string;
    region?: string;
    teams?: ReadonlySet<string> | null;
  }): Promise<Machine[]> {
    const rows = this.st
      .get(`${MACHINE_SELECT} WHERE (? IS NULL OR tm.name = ?) AND (? IS NULL OR r.name = ?) ORDER BY m.name`)
      .all(
        filter.team ?? null,
        filter.team ?? null,
        filter.region ?? null,
        filter.region ?? null,
      ) as MachineRow[];
    return rows.map(toMachine).filter((m) => inTeams(m.team, filter.teams));
  }

  async updateMachine(name: string, patch: MachinePatch, now: number): Promise<Machine> {
    const current = await this.getMachine(name);
    if (current === null) throw notFound('MACHINE_NOT_FOUND', `machine '${name}' does not exist`);
    const regionId = patch.region === undefined ? null : (await this.ensureRegion(patch.region, now)).id;
    this.st
      .get(
        `UPDATE machines SET concurrency = COALESCE(?, concurrency), labels = COALESCE(?, labels),
         region_id = COALESCE(?, region_id), host = COALESCE(?, host), port = COALESCE(?, port),
         ssh_user = COALESCE(?, ssh_user), host_key = COALESCE(?, host_key), updated_at = ? WHERE name = ?`,
      )
      .run(
        patch.concurrency ?? null,
        patch.labels === undefined ? null : JSON.stringify(patch.labels),
        regionId,
        patch.host ?? null,
        patch.port ?? null,
        patch.user ?? null,
        patch.hostKey ?? null,
        now,
        name,
      );
    return (await this.getMachine(name)) as Machine;
  }

  async deleteMachine(name: string): Promise<void> {
    this.st.db
      .transaction(() => {
        const m = this.st
          .get('SELECT id, running_count, pending_count FROM machines WHERE name = ?')
          .get(name) as { id: number; running_count: number; pending_count: number } | undefined;
        if (m === undefined) throw notFound('MACHINE_NOT_FOUND', `machine '${name}' does not exist`);
        const retrying = this.st
          .get(`SELECT 1 FROM tasks WHERE status = 'retrying' AND machine_id = ? LIMIT 1`)
          .get(m.id);
        if (m.running_count > 0 || m.pending_count > 0 || retrying !== undefined) {
          throw conflict('MACHINE_BUSY', `machine '${name}' has waiting or running tasks; cancel them first`);
        }
        this.st.get('DELETE FROM machines WHERE id = ?').run(m.id);
      })
      .immediate();
  }

  async queueStats(
    now: number,
    teams: ReadonlySet<string> | null = null,
    options: { busiest?: number } = {},
  ): Promise<QueueStats> {
    const read = this.st.db.transaction(() => {
      const counters = this.st
        .get(
          `SELECT c.priority, c.status, tm.name AS team, c.n FROM queue_counters c JOIN teams tm ON tm.id = c.team_id`,
        )
        .all() as CounterRow[];
      // The head of each priority's global lane, through the partial index tasks_pending_priority.
      const head = this.st.get(
        `SELECT t.queued_at AS queuedAt, tm.name AS team FROM tasks t JOIN teams tm ON tm.id = t.team_id
         WHERE t.status = 'pending' AND t.priority = ? ORDER BY t.seq LIMIT 1`,
      );
      const heads: LaneHead[] = [];
      for (const priority of PRIORITIES) {
        const r = head.get(priority) as { queuedAt: number; team: string } | undefined;
        if (r !== undefined) heads.push({ priority, ...r });
      }
      const busiest = this.st
        .get(
          `SELECT m.name AS machine, tm.name AS team, m.running_count AS running, m.pending_count AS pending,
             m.concurrency FROM machines m JOIN teams tm ON tm.id = m.team_id
           WHERE (m.running_count > 0 OR m.pending_count > 0)
             AND (? IS NULL OR tm.name IN (SELECT value FROM json_each(?)))
           ORDER BY m.running_count DESC, m.pending_count DESC, m.name LIMIT ?`,
        )
        .all(
          teams === null ? null : 1,
          JSON.stringify(teams === null ? [] : [...teams]),
          options.busiest ?? DEFAULT_BUSIEST,
        ) as QueueStats['busiestMachines'];
      return { counters, heads, busiest };
    });
    const { counters, heads, busiest } = read.deferred();
    return buildQueueStats(counters, heads, busiest, now, teams);
  }
}
