/** Migration 8 (SQLite): recurring schedules. */
export const SQLITE_SCHEDULES_MIGRATION = {
  id: 8,
  name: 'schedules',
  sql: `
-- A cron expression in a time zone that creates tasks from a template.
-- next_run_at is claimed by compare-and-set, so one replica handles each due time;
-- pending_due_at marks a claimed run until its tasks are recorded.
CREATE TABLE schedules (
  schedule_id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  overlap TEXT NOT NULL CHECK (overlap IN ('skip', 'allow')),
  catch_up INTEGER NOT NULL DEFAULT 0,
  paused INTEGER NOT NULL DEFAULT 0,
  task TEXT NOT NULL,
  next_run_at REAL,
  pending_due_at REAL,
  pending_since REAL,
  last_run_at REAL,
  last_task_ids TEXT NOT NULL DEFAULT '[]',
  last_batch_id TEXT,
  last_due_at REAL,
  last_outcome TEXT,
  last_detail TEXT,
  created_by TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX schedules_due ON schedules(next_run_at) WHERE paused = 0 AND pending_due_at IS NULL;
CREATE INDEX schedules_pending ON schedules(pending_since) WHERE pending_due_at IS NOT NULL;
CREATE INDEX schedules_team ON schedules(team_id);
`,
} as const;
