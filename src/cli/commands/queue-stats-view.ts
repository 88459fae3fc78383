import { duration, priorityText } from '../output.js';

/** GET /queue/stats as the CLI reads it. */
export interface QueueStatsView {
  pending: Record<string, number>;
  retrying: number;
  assigned: number;
  running: number;
  cancelling: number;
  oldestPendingAgeMs: number | null;
  busiestMachines: { machine: string; team: string; running: number; pending: number; concurrency: number }[];
  pendingTotal?: number;
  oldestPendingAgeMsByPriority?: Record<string, number | null>;
  lanes?: {
    team: string;
    priority: number;
    pending: number;
    retrying: number;
    assigned: number;
    running: number;
    cancelling: number;
  }[];
}

/** An aligned table as lines; null prints as '-'. */
export function tableLines(headers: string[], rows: (string | number | null)[][]): string[] {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === null ? '-' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

const age = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : duration(ms));

/** The text view of queue stats: per priority, totals, busiest machines and (optionally) per team. */
export function queueStatsLines(s: QueueStatsView, byTeam: boolean): string[] {
  const pendingTotal = s.pendingTotal ?? Object.values(s.pending).reduce((a, b) => a + b, 0);
  const lines = tableLines(
    ['PRIORITY', 'PENDING', 'OLDEST'],
    Object.entries(s.pending).map(([p, n]) => [
      priorityText(Number(p)),
      n,
      age(s.oldestPendingAgeMsByPriority?.[p]),
    ]),
  );
  lines.push(
    '',
    `pending ${pendingTotal}, running ${s.running + s.assigned} (${s.assigned} starting), retrying ${s.retrying}, ` +
      `cancelling ${s.cancelling}, oldest waiting ${age(s.oldestPendingAgeMs) ?? '-'}`,
  );
  if (s.busiestMachines.length > 0) {
    lines.push(
      '',
      ...tableLines(
        ['MACHINE', 'TEAM', 'RUNNING', 'PENDING'],
        s.busiestMachines.map((m) => [m.machine, m.team, `${m.running}/${m.concurrency}`, m.pending]),
      ),
    );
  }
  const lanes = (s.lanes ?? []).filter(
    (l) => l.pending + l.retrying + l.assigned + l.running + l.cancelling > 0,
  );
  if (byTeam && lanes.length > 0) {
    lines.push(
      '',
      ...tableLines(
        ['TEAM', 'PRIORITY', 'PENDING', 'RETRYING', 'RUNNING'],
        lanes.map((l) => [l.team, priorityText(l.priority), l.pending, l.retrying, l.running + l.assigned]),
      ),
    );
  }
  return lines;
}

/** ANSI: cursor home; each line cleared to its end; the rest of the screen cleared. Redraws without flicker. */
export function redrawFrame(lines: readonly string[], first: boolean): string {
  const start = first ? '\u001b[2J\u001b[H' : '\u001b[H';
  return `${start}${lines.map((l) => `${l}\u001b[K`).join('\n')}\n\u001b[J`;
}
