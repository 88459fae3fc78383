/** What the grid needs of a task row (the API's compact batch rows; see ops-api.ts). */
export interface GridRow {
  seq: number;
  taskId: string;
  machine: string;
  status: string;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
}

/** Order of a batch grid: what needs a look first (failures), what is still moving, then what went well. */
const RANK: Record<string, number> = {
  failed: 0,
  cancelled: 1,
  retrying: 2,
  cancelling: 3,
  running: 4,
  assigned: 5,
  pending: 6,
  completed: 7,
};

/** Machine names compared with their numbers as numbers: web-2 before web-10. */
const byName = new Intl.Collator('en', { numeric: true }).compare;

export function sortFailuresFirst<T extends GridRow>(rows: readonly T[]): T[] {
  return [...rows].sort(
    (a, b) => (RANK[a.status] ?? 9) - (RANK[b.status] ?? 9) || byName(a.machine, b.machine) || a.seq - b.seq,
  );
}

export function filterGrid<T extends GridRow>(rows: readonly T[], status: string, text: string): T[] {
  const needle = text.trim().toLowerCase();
  return rows.filter(
    (r) =>
      (status === '' || r.status === status) &&
      (needle === '' || r.machine.toLowerCase().includes(needle) || r.taskId.startsWith(needle)),
  );
}

/** What a grid row says about how it ended. */
export function outcome(r: Pick<GridRow, 'status' | 'exitCode' | 'signal' | 'reason'>): string {
  if (r.exitCode !== null) return `exit ${r.exitCode}`;
  if (r.signal !== null) return r.signal;
  if (r.reason !== null) return r.reason;
  return '';
}
