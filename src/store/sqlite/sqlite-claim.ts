import { notFound } from '../../core/errors.js';
import type { Assignment, Priority } from '../../core/types.js';
import { compareCandidates, laneDepth, pickForMachine, type SlotState } from '../../scheduler/ordering.js';
import { pickLeastLoaded } from '../../scheduler/placement.js';
import type { CounterDelta, MachineDelta } from '../counters.js';
import type { ClaimRequest } from '../store.js';
import type { Statements } from './connection.js';

const PRIORITIES: readonly Priority[] = [1, 2, 3, 4, 5];

interface MachineRow {
  id: number;
  name: string;
  team_id: number;
  team: string;
  concurrency: number;
  running_count: number;
  pending_count: number;
  transport: 'local' | 'ssh';
  host: string | null;
  port: number | null;
  ssh_user: string | null;
  host_key: string | null;
  labels: string;
  status: string;
  cpu_percent: number | null;
  mem_used: number | null;
  mem_total: number | null;
}

interface Claimed {
  assignment: Assignment;
  bridgeId: number;
  /** Handed out before under the same claim id; counted then. */
  replayed?: boolean;
}

interface AssignedRow {
  task_id: string;
  team_id: number;
  attempts: number;
  command: string;
  timeout_s: number | null;
  env: string;
  secret_env: string;
}

/**
 * Claiming on SQLite: the heads of each machine's priority lanes, merged by
 * the pure ordering rules, then waiting tasks with a label selector placed on
 * the least loaded matching machine. Runs inside the caller's transaction.
 */
export class SqliteClaim {
  constructor(private readonly st: Statements) {}

  claim(req: ClaimRequest, counters: CounterDelta, slots: MachineDelta): Claimed[] {
    const bridge = this.st.get('SELECT id FROM bridges WHERE name = ?').get(req.bridge) as
      | { id: number }
      | undefined;
    if (bridge === undefined) throw notFound('BRIDGE_NOT_FOUND', `bridge '${req.bridge}' is not registered`);
    this.st.get('UPDATE bridges SET last_seen_at = ? WHERE id = ?').run(req.now, bridge.id);
    const region = this.st.get('SELECT id FROM regions WHERE name = ?').get(req.region) as
      | { id: number }
      | undefined;
    if (region === undefined) return [];
    const machines = this.st
      .get(
        `SELECT m.id, m.name, m.team_id, tm.name AS team, m.concurrency, m.running_count, m.pending_count, m.transport,
           m.host, m.port, m.ssh_user, m.host_key, m.labels, m.status, m.cpu_percent, m.mem_used, m.mem_total
         FROM machines m JOIN teams tm ON tm.id = m.team_id WHERE m.region_id = ? ORDER BY m.running_count, m.id`,
      )
      .all(region.id) as MachineRow[];
    const out: Claimed[] = this.replay(req, bridge.id, machines);
    const batches = new BatchGate(this.st);
    const take = (m: MachineRow, seq: number, priority: Priority, batchId: string | null = null) => {
      if (!batches.admit(batchId)) return;
      out.push({
        assignment: this.assign(req, bridge.id, m, seq, priority, counters, slots),
        bridgeId: bridge.id,
      });
      m.running_count += 1;
    };
    this.placeSelected(req, region.id, machines, take, out, slots, batches);
    const lane = this.st.get(
      `SELECT seq, priority, queued_at AS createdAt, batch_id AS batchId FROM tasks
       WHERE status = 'pending' AND machine_id = ? AND priority = ? ORDER BY seq LIMIT ?`,
    );
    for (const m of machines) {
      const remaining = req.max - out.length;
      if (remaining <= 0) break;
      if (m.pending_count <= 0 || m.running_count >= m.concurrency + req.criticalReserve) continue;
      const state: SlotState = {
        running: m.running_count,
        concurrency: m.concurrency,
        criticalReserve: req.criticalReserve,
        max: remaining,
      };
      const lanes = PRIORITIES.map((p) => {
        const depth = laneDepth(p, state);
        return depth > 0
          ? (lane.all(m.id, p, depth) as {
              seq: number;
              priority: Priority;
              createdAt: number;
              batchId: string | null;
            }[])
          : [];
      });
      for (const pick of pickForMachine(lanes, state, req.now, req.agingIntervalMs)) {
        take(m, pick.seq, pick.priority, pick.batchId);
      }
    }
    return out;
  }

  /** What an earlier request with the same claim id took and the bridge never started: handed out again. */
  private replay(req: ClaimRequest, bridgeId: number, machines: MachineRow[]): Claimed[] {
    if (req.claimId === undefined || req.claimId === null) return [];
    const rows = this.st
      .get(
        `UPDATE tasks SET lease_expires_at = ? WHERE bridge_id = ? AND claim_id = ? AND status = 'assigned'
         RETURNING seq, machine_id, priority, task_id, team_id, attempts, command, timeout_s, env, secret_env`,
      )
      .all(req.now + req.leaseMs, bridgeId, req.claimId) as (AssignedRow & {
      seq: number;
      machine_id: number;
      priority: Priority;
    })[];
    return rows.flatMap((row) => {
      const m = machines.find((x) => x.id === row.machine_id);
      return m === undefined
        ? []
        : [{ assignment: this.shape(row, m, row.priority), bridgeId, replayed: true }];
    });
  }

  /** Waiting tasks with a selector go to the least loaded matching machine with a free slot. */
  private placeSelected(
    req: ClaimRequest,
    regionId: number,
    machines: MachineRow[],
    take: (m: MachineRow, seq: number, priority: Priority, batchId: string | null) => void,
    out: Claimed[],
    slots: MachineDelta,
    batches: BatchGate,
  ): void {
    const waiting = this.st
      .get(
        `SELECT seq, priority, queued_at AS createdAt, team_id, selector, batch_id FROM tasks
         WHERE status = 'pending' AND machine_id IS NULL AND region_id = ? ORDER BY priority, seq LIMIT ?`,
      )
      .all(regionId, Math.max(1, req.max) * 4) as {
      seq: number;
      priority: Priority;
      createdAt: number;
      team_id: number;
      selector: string;
      batch_id: string | null;
    }[];
    if (waiting.length === 0) return;
    waiting.sort((a, b) => compareCandidates(a, b, req.now, req.agingIntervalMs));
    for (const t of waiting) {
      if (out.length >= req.max) return;
      // A rolling fan-out's limit holds for selector tasks too: not placed while the batch is full.
      if (!batches.allows(t.batch_id)) continue;
      const reserve = t.priority === 1 ? req.criticalReserve : 0;
      const candidates = machines
        .filter((m) => m.team_id === t.team_id)
        .map((m) => ({
          row: m,
          name: m.name,
          online: m.status !== 'offline',
          labels: JSON.parse(m.labels) as Record<string, string>,
          running: m.running_count,
          concurrency: m.concurrency + reserve,
          cpuPercent: m.cpu_percent,
          memoryUsedRatio: m.mem_used !== null && m.mem_total ? m.mem_used / m.mem_total : null,
        }));
      const best = pickLeastLoaded(candidates, JSON.parse(t.selector) as Record<string, string>);
      if (best === null) continue;
      this.st
        .get(`UPDATE tasks SET machine_id = ?, machine_name = ? WHERE seq = ?`)
        .run(best.row.id, best.row.name, t.seq);
      // It joins the machine's queue and leaves it at once: keep the pending count balanced.
      slots.move(best.row.id, null, 'pending');
      take(best.row, t.seq, t.priority, t.batch_id);
    }
  }

  private assign(
    req: ClaimRequest,
    bridgeId: number,
    m: MachineRow,
    seq: number,
    priority: Priority,
    counters: CounterDelta,
    slots: MachineDelta,
  ): Assignment {
    const row = this.st
      .get(
        `UPDATE tasks SET status = 'assigned', attempts = attempts + 1, bridge_id = ?, lease_expires_at = ?,
           claim_id = ?
         WHERE seq = ? RETURNING task_id, team_id, attempts, command, timeout_s, env, secret_env`,
      )
      .get(bridgeId, req.now + req.leaseMs, req.claimId ?? null, seq) as AssignedRow;
    this.st
      .get(
        `INSERT INTO attempts (task_seq, attempt, status, bridge_id, machine_name, assigned_at)
         VALUES (?, ?, 'running', ?, ?, ?)`,
      )
      .run(seq, row.attempts, bridgeId, m.name, req.now);
    counters.move(row.team_id, priority, 'pending', 'assigned');
    slots.move(m.id, 'pending', 'assigned');
    return this.shape(row, m, priority);
  }

  /** The assignment a bridge needs: command, machine, and the ciphertexts of its secrets. */
  private shape(row: AssignedRow, m: MachineRow, priority: Priority): Assignment {
    const refs = Object.entries(JSON.parse(row.secret_env) as Record<string, string>);
    const secret = this.st.get(
      'SELECT version, ciphertext FROM vault_secrets WHERE team_id = ? AND name = ?',
    );
    const sshKey =
      m.transport === 'ssh'
        ? ((secret.get(row.team_id, `ssh/${m.name}`) as
            | { version: number; ciphertext: string }
            | undefined) ?? null)
        : null;
    const needsVault = refs.length > 0 || sshKey !== null;
    return {
      taskId: row.task_id,
      attempt: row.attempts,
      command: row.command,
      timeoutSeconds: row.timeout_s,
      team: m.team,
      priority,
      machine: {
        name: m.name,
        transport: m.transport,
        host: m.host,
        port: m.port,
        user: m.ssh_user,
        hostKey: m.host_key,
        sshKey: sshKey === null ? null : { key: `ssh/${m.name}`, ...sshKey },
      },
      env: JSON.parse(row.env) as Record<string, string>,
      secrets: refs.map(([env, name]) => {
        // A key deleted since the task was created reaches the bridge without ciphertext; it fails the attempt.
        const s = secret.get(row.team_id, name) as { version: number; ciphertext: string } | undefined;
        return { env, key: name, version: s?.version ?? 0, ciphertext: s?.ciphertext ?? '' };
      }),
      vault: needsVault ? this.vaultFor(row.team_id) : null,
    };
  }

  private vaultFor(teamId: number): Assignment['vault'] {
    const master = this.st.get('SELECT kdf FROM vault_master WHERE id = 1').get() as
      | { kdf: string }
      | undefined;
    const key = this.st.get('SELECT wrapped FROM vault_team_keys WHERE team_id = ?').get(teamId) as
      | { wrapped: string }
      | undefined;
    return master === undefined || key === undefined ? null : { kdf: master.kdf, teamKey: key.wrapped };
  }
}

/**
 * Rolling fan-outs: a task of a batch with a running limit starts only while
 * fewer of its batch run. Limits are read once per claim and counted here.
 */
class BatchGate {
  private readonly limits = new Map<string, { max: number | null; running: number } | null>();

  constructor(private readonly st: Statements) {}

  /** Whether one more of the batch may start now (admit counts it). */
  allows(batchId: string | null): boolean {
    const l = this.load(batchId);
    return l === null || l.max === null || l.running < l.max;
  }

  admit(batchId: string | null): boolean {
    if (!this.allows(batchId)) return false;
    const l = this.load(batchId);
    if (l === null) return true;
    l.running += 1;
    this.st.get('UPDATE batch_limits SET running = running + 1 WHERE batch_id = ?').run(batchId);
    return true;
  }

  private load(batchId: string | null): { max: number | null; running: number } | null {
    if (batchId === null) return null;
    if (!this.limits.has(batchId)) {
      const row = this.st
        .get('SELECT max_running, running, halted_at FROM batch_limits WHERE batch_id = ?')
        .get(batchId) as
        | { max_running: number | null; running: number; halted_at: number | null }
        | undefined;
      this.limits.set(
        batchId,
        row === undefined
          ? null
          : { max: row.halted_at === null ? row.max_running : 0, running: row.running },
      );
    }
    return this.limits.get(batchId) ?? null;
  }
}
