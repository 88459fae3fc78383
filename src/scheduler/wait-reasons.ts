import type { MachineStatus, Priority, TaskStatus } from '../core/types.js';

/** What is known about a task that may be waiting; gathered by the caller, judged here without I/O. */
export interface WaitFacts {
  status: TaskStatus;
  priority: Priority;
  /** When a retrying task's next attempt is due (ms), or null. */
  retryAt: number | null;
  attempts: number;
  now: number;
  /** The machine it is placed on; null for a task that waits for a label selector to find one. */
  machine: {
    name: string;
    status: MachineStatus;
    statusSince: number | null;
    running: number;
    concurrency: number;
  } | null;
  region: string;
  /** Pending tasks ahead of it in its lane (null when unknown). */
  ahead: number | null;
  batch: { maxRunning: number | null; running: number; halted: boolean } | null;
  /** Bridges of the region that were in touch recently. */
  bridgesOnline: number;
  /** Extra slots a machine keeps for priority-1 tasks. */
  criticalReserve: number;
}

export type WaitCode =
  | 'RETRY_DELAY'
  | 'CLAIMED'
  | 'STOPPING'
  | 'BATCH_HALTED'
  | 'BATCH_LIMIT'
  | 'NO_BRIDGE'
  | 'MACHINE_OFFLINE'
  | 'MACHINE_UNKNOWN'
  | 'SLOTS_BUSY'
  | 'QUEUE_AHEAD'
  | 'NO_MATCH_YET'
  | 'STARTING_SOON';

export interface WaitReason {
  code: WaitCode;
  text: string;
}

function inWords(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** Why a task has not started yet, most decisive reason first; empty for a task that does not wait. */
export function waitReasons(f: WaitFacts): WaitReason[] {
  if (f.status === 'retrying') {
    const due = f.retryAt === null ? 'soon' : `in ${inWords(f.retryAt - f.now)}`;
    return [{ code: 'RETRY_DELAY', text: `attempt ${f.attempts} failed; the next attempt is due ${due}` }];
  }
  if (f.status === 'assigned') {
    return [{ code: 'CLAIMED', text: 'a bridge has claimed it and is starting the command' }];
  }
  if (f.status === 'cancelling') {
    return [{ code: 'STOPPING', text: 'the command is being stopped (TERM, then KILL)' }];
  }
  if (f.status !== 'pending') return [];
  const reasons: WaitReason[] = [];
  if (f.batch?.halted === true) {
    reasons.push({ code: 'BATCH_HALTED', text: 'its rolling batch was halted after too many failures' });
  } else if (f.batch !== null && f.batch.maxRunning !== null && f.batch.running >= f.batch.maxRunning) {
    reasons.push({
      code: 'BATCH_LIMIT',
      text: `its rolling batch runs at most ${f.batch.maxRunning} at once, and ${f.batch.running} are running`,
    });
  }
  if (f.bridgesOnline === 0) {
    reasons.push({ code: 'NO_BRIDGE', text: `no bridge of region ${f.region} has been in touch recently` });
  }
  const m = f.machine;
  if (m === null) {
    reasons.push({
      code: 'NO_MATCH_YET',
      text: `it waits for the least loaded online machine that matches its labels in region ${f.region}`,
    });
  } else if (m.status === 'offline') {
    const since = m.statusSince === null ? '' : ` for ${inWords(f.now - m.statusSince)}`;
    reasons.push({ code: 'MACHINE_OFFLINE', text: `machine ${m.name} has been offline${since}` });
  } else {
    if (m.status === 'unknown') {
      reasons.push({ code: 'MACHINE_UNKNOWN', text: `machine ${m.name} has not been reached yet` });
    }
    const slots = m.concurrency + (f.priority === 1 ? f.criticalReserve : 0);
    if (m.running >= slots) {
      const extra = f.priority === 1 ? ` (with ${f.criticalReserve} kept for priority 1)` : '';
      reasons.push({
        code: 'SLOTS_BUSY',
        text: `all ${slots} slots of ${m.name}${extra} are busy`,
      });
    }
  }
  if (f.ahead !== null && f.ahead > 0) {
    const lane = m === null ? `in region ${f.region}` : `on ${m.name}`;
    reasons.push({
      code: 'QUEUE_AHEAD',
      text: `${f.ahead} waiting task${f.ahead === 1 ? '' : 's'} ${lane} go${f.ahead === 1 ? 'es' : ''} first (higher priority or queued earlier)`,
    });
  }
  if (reasons.length === 0) {
    reasons.push({
      code: 'STARTING_SOON',
      text: 'nothing holds it back: a bridge should claim it in a moment',
    });
  }
  return reasons;
}
