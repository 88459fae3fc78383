import type { AppError } from '../../core/errors.js';

/** Whether `team` is among `teams` (null or undefined: every team). */
export function inTeams(team: string, teams: ReadonlySet<string> | null | undefined): boolean {
  return teams === null || teams === undefined || teams.has(team);
}

/** A unique-constraint violation becomes `replacement`; other errors pass through. */
export function uniqueOr(err: unknown, replacement: AppError): unknown {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' ? replacement : err;
}
