import type { Task, Team } from '../../core/types.js';
import { toTask as fromRow, type TaskRow } from '../sqlite/rows.js';

// The row shapes and mappers are the SQLite adapter's: both dialects return the same columns.
export {
  type AlertRow,
  type AttemptRow,
  type BridgeRow,
  MACHINE_SELECT,
  type MachineRow,
  TASK_COLUMNS,
  TASK_FROM,
  toAlert,
  toAttempt,
  toBridge,
  toMachine,
} from '../sqlite/rows.js';

/** PostgreSQL keeps flags as BOOLEAN where SQLite has 0/1. */
export type PgTaskRow = Omit<TaskRow, 'output_capped'> & { output_capped: boolean };

export function toTask(r: PgTaskRow): Task {
  return fromRow({ ...r, output_capped: r.output_capped ? 1 : 0 });
}

export interface TeamRow {
  id: number;
  name: string;
  created_at: number;
}

export function toTeam(r: TeamRow): Team {
  return { id: r.id, name: r.name, createdAt: r.created_at };
}

export function inTeams(team: string, teams: ReadonlySet<string> | null | undefined): boolean {
  return teams === null || teams === undefined || teams.has(team);
}

/** A unique violation (23505) becomes the given error; anything else passes through. */
export function uniqueOr(err: unknown, replacement: Error): unknown {
  return (err as { code?: unknown } | null)?.code === '23505' ? replacement : err;
}
