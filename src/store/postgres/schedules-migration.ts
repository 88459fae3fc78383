/** Migration 8 (PostgreSQL): recurring schedules. */
export const PG_SCHEDULES_MIGRATION = {
  id: 8,
  name: 'schedules',
  sql: `
-- A cron expression in a time zone that creates tasks from a template.
-- next_run_at is claimed by compare-and-set, so one replica handles each due time;
-- pending_due_at marks a claimed run until its tasks are recorded.
CREATE TABLE schedules (
  schedule_id TEXT PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL UNIQUE,
  team_id BIGINT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  overlap TEXT NOT NULL CHECK (overlap IN ('skip', 'allow')),
  catch_up BOOLEAN NOT NULL DEFAULT false,
  paused BOOLEAN NOT NULL DEFAULT false,
  task TEXT NOT NULL,
  next_run_at DOUBLE PRECISION,
  pending_due_at DOUBLE PRECISION,
  pending_since DOUBLE PRECISION,
  last_run_at DOUBLE PRECISION,
  last_task_ids TEXT NOT NULL DEFAULT '[]',
  last_batch_id TEXT,
  last_due_at DOUBLE PRECISION,
  last_outcome TEXT,
  last_detail TEXT,
  created_by TEXT,
  created_at DOUBLE PRECISION NOT NULL,
  updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX schedules_due ON schedules(next_run_at) WHERE NOT paused AND pending_due_at IS NULL;
CREATE INDEX schedules_pending ON schedules(pending_since) WHERE pending_due_at IS NOT NULL;
CREATE INDEX schedules_team ON schedules(team_id);
`,
} as const;
