/**
 * The queue's history per minute: what one sample holds, how it is built from
 * what the store read, and how samples of several teams are told as one
 * series. Pure functions: both stores and the HTTP route share them.
 */

export const MINUTE_MS = 60_000;
/** Samples kept: 7 days. */
export const QUEUE_HISTORY_KEEP_MS = 7 * 24 * 60 * MINUTE_MS;
/** The all-teams row of a minute (also the mark that the minute was sampled). */
export const ALL_TEAMS = 0;

/** One stored row: a team's figures in one minute, or every team's (`teamId` 0). */
export interface SampleRecord {
  teamId: number;
  /** The minute's start (ms since the epoch). */
  minute: number;
  takenAt: number;
  pending: [number, number, number, number, number];
  /** Holding a machine slot: assigned, running or cancelling. */
  running: number;
  retrying: number;
  /** Tasks that first started in the minute. */
  started: number;
  waitP50Ms: number | null;
  waitP95Ms: number | null;
  waitMaxMs: number | null;
  /** Age of the oldest waiting task when the sample was taken. */
  oldestWaitMs: number | null;
}

/** What the store reads to build a minute's samples. */
export interface SampleInput {
  minute: number;
  takenAt: number;
  /** The maintained queue counters (team, priority, status, n). */
  counters: readonly { teamId: number; priority: number; status: string; n: number }[];
  /** Tasks that first started in the minute: their team and wait (started_at - queued_at). */
  starts: readonly { teamId: number; waitMs: number }[];
  /** The oldest waiting task's queued_at, per team. */
  oldest: readonly { teamId: number; queuedAt: number }[];
}

/** Nearest-rank percentile of values sorted ascending; null for none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

function blank(teamId: number, minute: number, takenAt: number): SampleRecord {
  return {
    teamId,
    minute,
    takenAt,
    pending: [0, 0, 0, 0, 0],
    running: 0,
    retrying: 0,
    started: 0,
    waitP50Ms: null,
    waitP95Ms: null,
    waitMaxMs: null,
    oldestWaitMs: null,
  };
}

/**
 * The rows of one minute: the all-teams row first (always), then one per team
 * that had something waiting, running, retrying or started. A team without a
 * row in a sampled minute had nothing.
 */
export function buildSamples(input: SampleInput): SampleRecord[] {
  const { minute, takenAt } = input;
  const all = blank(ALL_TEAMS, minute, takenAt);
  const teams = new Map<number, SampleRecord>();
  const team = (id: number): SampleRecord => {
    let r = teams.get(id);
    if (r === undefined) {
      r = blank(id, minute, takenAt);
      teams.set(id, r);
    }
    return r;
  };
  for (const c of input.counters) {
    const n = Number(c.n);
    const p = Number(c.priority);
    if (n <= 0) continue;
    for (const r of [all, team(Number(c.teamId))]) {
      if (c.status === 'pending' && p >= 1 && p <= 5) r.pending[p - 1] = (r.pending[p - 1] ?? 0) + n;
      else if (c.status === 'retrying') r.retrying += n;
      else if (c.status === 'assigned' || c.status === 'running' || c.status === 'cancelling') r.running += n;
    }
  }
  const waits = new Map<number, number[]>();
  const allWaits: number[] = [];
  for (const s of input.starts) {
    const w = Math.max(0, Number(s.waitMs));
    allWaits.push(w);
    const list = waits.get(Number(s.teamId)) ?? [];
    list.push(w);
    waits.set(Number(s.teamId), list);
  }
  fillWaits(all, allWaits);
  for (const [id, list] of waits) fillWaits(team(id), list);
  for (const o of input.oldest) {
    const age = Math.max(0, takenAt - Number(o.queuedAt));
    const r = team(Number(o.teamId));
    r.oldestWaitMs = Math.max(r.oldestWaitMs ?? 0, age);
    all.oldestWaitMs = Math.max(all.oldestWaitMs ?? 0, age);
  }
  return [all, ...[...teams.values()].sort((a, b) => a.teamId - b.teamId)];
}

function fillWaits(r: SampleRecord, waits: number[]): void {
  if (waits.length === 0) return;
  const sorted = [...waits].sort((a, b) => a - b);
  r.started = sorted.length;
  r.waitP50Ms = percentile(sorted, 50);
  r.waitP95Ms = percentile(sorted, 95);
  r.waitMaxMs = sorted.at(-1) ?? null;
}

/** One point of the history as the API answers it. */
export interface HistoryPoint {
  minute: number;
  pending: [number, number, number, number, number];
  pendingTotal: number;
  running: number;
  retrying: number;
  started: number;
  waitP50Ms: number | null;
  waitP95Ms: number | null;
  waitMaxMs: number | null;
  oldestWaitMs: number | null;
  /**
   * False when the percentiles come from several teams' own: then they are
   * the highest team's, an upper bound of the combined figure (counts, the
   * longest wait and the oldest wait stay exact).
   */
  waitExact: boolean;
}

const maxOf = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);

/** A stored row as a point of its own. */
export function pointOf(r: SampleRecord): HistoryPoint {
  return {
    minute: r.minute,
    pending: [...r.pending],
    pendingTotal: r.pending.reduce((a, b) => a + b, 0),
    running: r.running,
    retrying: r.retrying,
    started: r.started,
    waitP50Ms: r.waitP50Ms,
    waitP95Ms: r.waitP95Ms,
    waitMaxMs: r.waitMaxMs,
    oldestWaitMs: r.oldestWaitMs,
    waitExact: true,
  };
}

/**
 * Several teams' rows as one series: one point per sampled minute (a team
 * without a row had nothing then). Counts add up; the longest and the oldest
 * wait are the largest; percentiles are exact when one team started tasks in
 * the minute, else the largest team's (`waitExact` false).
 */
export function mergeTeams(minutes: readonly number[], rows: readonly SampleRecord[]): HistoryPoint[] {
  const byMinute = new Map<number, SampleRecord[]>();
  for (const r of rows) {
    const list = byMinute.get(r.minute) ?? [];
    list.push(r);
    byMinute.set(r.minute, list);
  }
  return [...minutes]
    .sort((a, b) => a - b)
    .map((minute) => {
      const p = pointOf(blank(ALL_TEAMS, minute, minute));
      let startedTeams = 0;
      for (const r of byMinute.get(minute) ?? []) {
        for (let i = 0; i < 5; i += 1) p.pending[i] = (p.pending[i] ?? 0) + (r.pending[i] ?? 0);
        p.running += r.running;
        p.retrying += r.retrying;
        p.started += r.started;
        if (r.started > 0) startedTeams += 1;
        p.waitP50Ms = maxOf(p.waitP50Ms, r.waitP50Ms);
        p.waitP95Ms = maxOf(p.waitP95Ms, r.waitP95Ms);
        p.waitMaxMs = maxOf(p.waitMaxMs, r.waitMaxMs);
        p.oldestWaitMs = maxOf(p.oldestWaitMs, r.oldestWaitMs);
      }
      p.pendingTotal = p.pending.reduce((a, b) => a + b, 0);
      p.waitExact = startedTeams <= 1;
      return p;
    });
}

/**
 * Points of `stepMinutes` minutes (aligned to the epoch) from per-minute
 * points: each figure is the highest of its minutes (a peak is not averaged
 * away), `started` their sum. Exact waits only if every minute's were.
 */
export function downsample(points: readonly HistoryPoint[], stepMinutes: number): HistoryPoint[] {
  if (stepMinutes <= 1) return [...points];
  const stepMs = stepMinutes * MINUTE_MS;
  const out: HistoryPoint[] = [];
  for (const p of points) {
    const minute = Math.floor(p.minute / stepMs) * stepMs;
    const last = out.at(-1);
    if (last === undefined || last.minute !== minute) {
      out.push({ ...p, minute, pending: [...p.pending] });
      continue;
    }
    for (let i = 0; i < 5; i += 1) last.pending[i] = Math.max(last.pending[i] ?? 0, p.pending[i] ?? 0);
    last.pendingTotal = Math.max(last.pendingTotal, p.pendingTotal);
    last.running = Math.max(last.running, p.running);
    last.retrying = Math.max(last.retrying, p.retrying);
    last.started += p.started;
    last.waitP50Ms = maxOf(last.waitP50Ms, p.waitP50Ms);
    last.waitP95Ms = maxOf(last.waitP95Ms, p.waitP95Ms);
    last.waitMaxMs = maxOf(last.waitMaxMs, p.waitMaxMs);
    last.oldestWaitMs = maxOf(last.oldestWaitMs, p.oldestWaitMs);
    last.waitExact = last.waitExact && p.waitExact;
  }
  return out;
}

/** The minute a sample taken at `now` describes: the last one that has ended. */
export function sampledMinute(now: number): number {
  return Math.floor(now / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
}
