import { notFound } from '../../core/errors.js';
import type { Assignment, Priority } from '../../core/types.js';
import { compareCandidates, laneDepth, pickForMachine, type SlotState } from '../../scheduler/ordering.js';
import { pickLeastLoaded } from '../../scheduler/placement.js';
import type { ClaimRequest } from '../store.js';
import { Changes, flush } from './pg-changes.js';
import type { Q } from './pg-connection.js';

const PRIORITIES: readonly Priority[] = [1, 2, 3, 4, 5];

const MACHINE_COLUMNS = `m.id, m.name, m.team_id, tm.name AS team, m.region_id, m.concurrency, m.running_count,
  m.pending_count, m.transport, m.host, m.port, m.ssh_user, m.host_key, m.labels, m.status, m.cpu_percent,
  m.mem_used, m.mem_total`;

interface MachineRow {
  id: number;
  name: string;
  team_id: number;
  team: string;
  region_id: number;
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

interface Pick {
  m: MachineRow;
  seq: number;
  priority: Priority;
}

/**
 * Claiming on PostgreSQL, inside the caller's transaction; the same rules as
 * SQLite's: the heads of each machine's priority lanes merged by the pure
 * ordering rules, after waiting tasks with a label selector are placed on the
 * least loaded matching machine. Replicas claim at once: a machine is claimed
 * for by one transaction at a time (its row locked, SKIP LOCKED), and so is a
 * waiting task, so no task is handed out twice and no machine overfilled.
 */
export async function claim(q: Q, req: ClaimRequest): Promise<Assignment[]> {
  const bridge = await q.one<{ id: number }>('SELECT id FROM bridges WHERE name = $1', [req.bridge]);
  if (bridge === undefined) throw notFound('BRIDGE_NOT_FOUND', `bridge '${req.bridge}' is not registered`);
  await q.run('UPDATE bridges SET last_seen_at = $1 WHERE id = $2', [req.now, bridge.id]);
  const region = await q.one<{ id: number }>('SELECT id FROM regions WHERE name = $1', [req.region]);
  if (region === undefined) return [];
  // A first look without locks, in the order the machines are visited; each is locked when it is used.
  const machines = await q.rows<MachineRow>(
    `SELECT ${MACHINE_COLUMNS} FROM machines m JOIN teams tm ON tm.id = m.team_id
     WHERE m.region_id = $1 ORDER BY m.running_count, m.id`,
    [region.id],
  );
  const again = await replay(q, req, bridge.id, machines);
  const locks = new MachineLocks(q, region.id);
  const gate = new BatchGate(q);
  const picks: Pick[] = [];
  const ch = new Changes();
  const take = async (m: MachineRow, seq: number, priority: Priority, batchId: string | null = null) => {
    if (!(await gate.admit(batchId))) return;
    picks.push({ m, seq, priority });
    m.running_count += 1;
  };
  const room = { ...req, max: req.max - again.length };
  await placeSelected(q, room, region.id, machines, locks, take, picks, ch, gate);
  for (const m of machines) {
    if (room.max - picks.length <= 0) break;
    if (m.pending_count <= 0 || m.running_count >= m.concurrency + req.criticalReserve) continue;
    if (!(await locks.lock(m))) continue;
    const remaining = room.max - picks.length;
    if (m.pending_count <= 0 || m.running_count >= m.concurrency + req.criticalReserve) continue;
    const state: SlotState = {
      running: m.running_count,
      concurrency: m.concurrency,
      criticalReserve: req.criticalReserve,
      max: remaining,
    };
    const lanes = await readLanes(q, m.id, state);
    for (const pick of pickForMachine(lanes, state, req.now, req.agingIntervalMs)) {
      await take(m, pick.seq, pick.priority, pick.batchId);
    }
  }
  const fresh = await assign(q, req, bridge.id, picks, ch);
  await gate.flush();
  ch.bridgeRunning(bridge.id, fresh.length);
  const out = [...again, ...fresh];
  await flush(q, ch);
  return out;
}

type Lane = { seq: number; priority: Priority; createdAt: number; batchId: string | null }[];

/** The heads of a machine's five priority lanes, as deep as `pickForMachine` may need, locked. */
async function readLanes(q: Q, machineId: number, state: SlotState): Promise<Lane[]> {
  const lanes = PRIORITIES.map((p) => ({ p, depth: laneDepth(p, state) })).filter((l) => l.depth > 0);
  // One branch per lane with its priority as a literal: a parameter or a joined value would hide it from
  // the planner, which on a queue of one priority then walks the primary key instead of the lane index.
  const rows =
    lanes.length > 0
      ? await q.rows<Lane[number]>(
          `WITH ${lanes
            .map(
              ({ p }, i) => `l${p} AS (SELECT seq, priority, queued_at, batch_id FROM tasks
                 WHERE status = 'pending' AND machine_id = $1 AND priority = ${p}
                 ORDER BY seq LIMIT $${i + 2} FOR UPDATE SKIP LOCKED)`,
            )
            .join(', ')}
           ${lanes
             .map(
               ({ p }) => `SELECT seq, priority, queued_at AS "createdAt", batch_id AS "batchId" FROM l${p}`,
             )
             .join(' UNION ALL ')}`,
          [machineId, ...lanes.map((l) => l.depth)],
        )
      : [];
  return PRIORITIES.map((p) => rows.filter((r) => r.priority === p).sort((a, b) => a.seq - b.seq));
}

/** Waiting tasks with a selector go to the least loaded matching machine with a free slot. */
async function placeSelected(
  q: Q,
  req: ClaimRequest,
  regionId: number,
  machines: MachineRow[],
  locks: MachineLocks,
  take: (m: MachineRow, seq: number, priority: Priority, batchId: string | null) => Promise<void>,
  picks: Pick[],
  ch: Changes,
  gate: BatchGate,
): Promise<void> {
  const waiting = await q.rows<{
    seq: number;
    priority: Priority;
    createdAt: number;
    team_id: number;
    selector: string;
    batch_id: string | null;
  }>(
    `SELECT seq, priority, queued_at AS "createdAt", team_id, selector, batch_id FROM tasks
     WHERE status = 'pending' AND machine_id IS NULL AND region_id = $1 ORDER BY priority, seq LIMIT $2
     FOR UPDATE SKIP LOCKED`,
    [regionId, Math.max(1, req.max) * 4],
  );
  if (waiting.length === 0) return;
  waiting.sort((a, b) => compareCandidates(a, b, req.now, req.agingIntervalMs));
  for (const t of waiting) {
    if (picks.length >= req.max) return;
    // A rolling fan-out's limit holds for selector tasks too: not placed while the batch is full.
    if (!(await gate.allows(t.batch_id))) continue;
    const reserve = t.priority === 1 ? req.criticalReserve : 0;
    const selector = JSON.parse(t.selector) as Record<string, string>;
    let chosen: MachineRow | null = null;
    for (;;) {
      const candidates = machines
        .filter((m) => m.team_id === t.team_id && locks.usable(m))
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
      const best = pickLeastLoaded(candidates, selector);
      if (best === null || locks.held(best.row)) {
        chosen = best?.row ?? null;
        break;
      }
      // Lock the choice and look again with its current load (or without it, if another claim holds it).
      await locks.lock(best.row);
    }
    if (chosen === null) continue;
    // It joins the machine's queue and leaves it at once: keep the pending count balanced.
    ch.machines.move(chosen.id, null, 'pending');
    await take(chosen, t.seq, t.priority, t.batch_id);
  }
}

interface AssignedRow {
  seq: number;
  task_id: string;
  team_id: number;
  attempts: number;
  command: string;
  timeout_s: number | null;
  env: string;
  secret_env: string;
}

type Held = Pick & { row: AssignedRow };

/** What an earlier request with the same claim id took and the bridge never started: handed out again. */
async function replay(
  q: Q,
  req: ClaimRequest,
  bridgeId: number,
  machines: MachineRow[],
): Promise<Assignment[]> {
  if (req.claimId === undefined || req.claimId === null) return [];
  const rows = await q.rows<AssignedRow & { machine_id: number; priority: Priority }>(
    `UPDATE tasks SET lease_expires_at = $1 WHERE bridge_id = $2 AND claim_id = $3 AND status = 'assigned'
     RETURNING seq, machine_id, priority, task_id, team_id, attempts, command, timeout_s, env, secret_env`,
    [req.now + req.leaseMs, bridgeId, req.claimId],
  );
  const held = rows.flatMap((row): Held[] => {
    const m = machines.find((x) => x.id === row.machine_id);
    return m === undefined ? [] : [{ m, seq: row.seq, priority: row.priority, row }];
  });
  return shape(q, held);
}

/** Hands the picked tasks out: new attempts, with the secrets and vault keys the bridge needs. */
async function assign(q: Q, req: ClaimRequest, bridgeId: number, picks: Pick[], ch: Changes) {
  if (picks.length === 0) return [];
  const updated = await q.rows<AssignedRow>(
    `UPDATE tasks t SET status = 'assigned', attempts = t.attempts + 1, bridge_id = $1, lease_expires_at = $2,
       machine_id = d.machine_id, machine_name = d.machine_name, claim_id = $6
     FROM unnest($3::bigint[], $4::bigint[], $5::text[]) AS d(seq, machine_id, machine_name)
     WHERE t.seq = d.seq
     RETURNING t.seq, t.task_id, t.team_id, t.attempts, t.command, t.timeout_s, t.env, t.secret_env`,
    [
      bridgeId,
      req.now + req.leaseMs,
      picks.map((p) => p.seq),
      picks.map((p) => p.m.id),
      picks.map((p) => p.m.name),
      req.claimId ?? null,
    ],
  );
  const bySeq = new Map(updated.map((r) => [r.seq, r]));
  const tasks: Held[] = picks.map((p) => ({ ...p, row: bySeq.get(p.seq) as AssignedRow }));
  await q.run(
    `INSERT INTO attempts (task_seq, attempt, status, bridge_id, machine_name, assigned_at)
     SELECT d.seq, d.attempt, 'running', $1, d.machine_name, $2
     FROM unnest($3::bigint[], $4::int[], $5::text[]) AS d(seq, attempt, machine_name)`,
    [
      bridgeId,
      req.now,
      tasks.map((t) => t.seq),
      tasks.map((t) => t.row.attempts),
      tasks.map((t) => t.m.name),
    ],
  );
  for (const t of tasks) {
    ch.counters.move(t.row.team_id, t.priority, 'pending', 'assigned');
    ch.machines.move(t.m.id, 'pending', 'assigned');
  }
  return shape(q, tasks);
}

/** The assignments a bridge needs: command, machine, and the ciphertexts of their secrets. */
async function shape(q: Q, tasks: Held[]): Promise<Assignment[]> {
  if (tasks.length === 0) return [];
  const wanted = tasks.flatMap((t) => [
    ...Object.values(JSON.parse(t.row.secret_env) as Record<string, string>).map((name) => ({
      team: t.row.team_id,
      name,
    })),
    ...(t.m.transport === 'ssh' ? [{ team: t.row.team_id, name: `ssh/${t.m.name}` }] : []),
  ]);
  const secrets = new Map<string, { version: number; ciphertext: string }>();
  if (wanted.length > 0) {
    for (const s of await q.rows<{ team_id: number; name: string; version: number; ciphertext: string }>(
      `SELECT s.team_id, s.name, s.version, s.ciphertext FROM vault_secrets s
       JOIN unnest($1::bigint[], $2::text[]) AS d(team_id, name) ON s.team_id = d.team_id AND s.name = d.name`,
      [wanted.map((w) => w.team), wanted.map((w) => w.name)],
    ))
      secrets.set(`${s.team_id}|${s.name}`, { version: s.version, ciphertext: s.ciphertext });
  }
  const shaped = tasks.map((t) => {
    const refs = Object.entries(JSON.parse(t.row.secret_env) as Record<string, string>);
    const sshKey = t.m.transport === 'ssh' ? (secrets.get(`${t.row.team_id}|ssh/${t.m.name}`) ?? null) : null;
    return { ...t, refs, sshKey, needsVault: refs.length > 0 || sshKey !== null };
  });
  const vaults = await vaultsFor(
    q,
    shaped.filter((t) => t.needsVault).map((t) => t.row.team_id),
  );
  return shaped.map(({ m, priority, row, refs, sshKey, needsVault }): Assignment => {
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
        const s = secrets.get(`${row.team_id}|${name}`);
        return { env, key: name, version: s?.version ?? 0, ciphertext: s?.ciphertext ?? '' };
      }),
      vault: needsVault ? (vaults.get(row.team_id) ?? null) : null,
    };
  });
}

/** Key derivation settings and wrapped team key of each team, where the vault is set up. */
async function vaultsFor(q: Q, teamIds: number[]): Promise<Map<number, Assignment['vault']>> {
  const out = new Map<number, Assignment['vault']>();
  if (teamIds.length === 0) return out;
  const master = await q.one<{ kdf: string }>('SELECT kdf FROM vault_master WHERE id = 1');
  if (master === undefined) return out;
  for (const k of await q.rows<{ team_id: number; wrapped: string }>(
    'SELECT team_id, wrapped FROM vault_team_keys WHERE team_id = ANY($1::bigint[])',
    [[...new Set(teamIds)]],
  ))
    out.set(k.team_id, { kdf: master.kdf, teamKey: k.wrapped });
  return out;
}

/** Machine rows this claim holds; one another claim holds is left alone for this round. */
class MachineLocks {
  private readonly locked = new Set<number>();
  private readonly skipped = new Set<number>();

  constructor(
    private readonly q: Q,
    private readonly regionId: number,
  ) {}

  held(m: MachineRow): boolean {
    return this.locked.has(m.id);
  }

  usable(m: MachineRow): boolean {
    return !this.skipped.has(m.id);
  }

  /** Locks the row and refreshes the counts it was read with; false when another claim has it. */
  async lock(m: MachineRow): Promise<boolean> {
    if (this.locked.has(m.id)) return true;
    if (this.skipped.has(m.id)) return false;
    const fresh = await this.q.one<MachineRow>(
      `SELECT ${MACHINE_COLUMNS} FROM machines m JOIN teams tm ON tm.id = m.team_id
       WHERE m.id = $1 FOR NO KEY UPDATE OF m SKIP LOCKED`,
      [m.id],
    );
    if (fresh === undefined || fresh.region_id !== this.regionId) {
      this.skipped.add(m.id);
      return false;
    }
    Object.assign(m, fresh);
    this.locked.add(m.id);
    return true;
  }
}

/**
 * Rolling fan-outs: a task of a batch with a running limit starts only while
 * fewer of its batch run. A batch's limits row is locked when first read; one
 * that another unit of work holds admits nothing this round.
 */
class BatchGate {
  private readonly limits = new Map<string, { max: number | null; running: number; added: number } | null>();

  constructor(private readonly q: Q) {}

  /** Whether one more of the batch may start now (admit counts it). */
  async allows(batchId: string | null): Promise<boolean> {
    const l = await this.load(batchId);
    return l === null || l.max === null || l.running < l.max;
  }

  async admit(batchId: string | null): Promise<boolean> {
    if (!(await this.allows(batchId))) return false;
    const l = await this.load(batchId);
    if (l === null) return true;
    l.running += 1;
    l.added += 1;
    return true;
  }

  private async load(
    batchId: string | null,
  ): Promise<{ max: number | null; running: number; added: number } | null> {
    if (batchId === null) return null;
    if (!this.limits.has(batchId)) {
      const row = await this.q.one<{ max_running: number | null; running: number; halted_at: number | null }>(
        'SELECT max_running, running, halted_at FROM batch_limits WHERE batch_id = $1 FOR NO KEY UPDATE SKIP LOCKED',
        [batchId],
      );
      if (row !== undefined) {
        const max = row.halted_at === null ? row.max_running : 0;
        this.limits.set(batchId, { max, running: row.running, added: 0 });
      } else {
        const busy = await this.q.one('SELECT 1 FROM batch_limits WHERE batch_id = $1', [batchId]);
        this.limits.set(batchId, busy === undefined ? null : { max: 0, running: 0, added: 0 });
      }
    }
    return this.limits.get(batchId) ?? null;
  }

  async flush(): Promise<void> {
    const added = [...this.limits].flatMap(([id, l]) =>
      l !== null && l.added > 0 ? [[id, l.added] as const] : [],
    );
    if (added.length === 0) return;
    await this.q.run(
      `UPDATE batch_limits b SET running = b.running + d.n FROM unnest($1::text[], $2::int[]) AS d(batch_id, n)
       WHERE b.batch_id = d.batch_id`,
      [added.map(([id]) => id), added.map(([, n]) => n)],
    );
  }
}
