/**
 * Migration 11 (both dialects): the queue's history per minute, and the
 * indexes behind it and behind "slower than usual".
 *
 * - `queue_samples`: one row per minute and team that had anything queued,
 *   running or started, plus one row per sampled minute with `team_id = 0`
 *   for every team together. The all-teams row doubles as the claim on the
 *   minute: the first replica to insert it writes the minute, the others skip.
 * - `tasks_started_at`: the tasks that first started in a minute (their wait),
 *   once they no longer hold a slot. Partial: nothing at insert, and no entry
 *   for the running tasks' frequent updates (lease extensions) on PostgreSQL,
 *   where an update that is not HOT adds an entry to every index it matches;
 *   the few tasks holding a slot are read through `tasks_leases` instead.
 * - `tasks_usual_runs`: earlier completed runs of one command on one machine,
 *   newest first. Partial on `completed`: a task enters it once, when it ends
 *   well. SQLite keys on the command's first 256 characters, PostgreSQL on its
 *   MD5 (a B-tree entry must stay small); both compare the full text after.
 */
const SAMPLES = (real: string, id: string) => `
CREATE TABLE queue_samples (
  -- 0: every team together (also the mark that the minute was sampled).
  team_id ${id} NOT NULL,
  -- The minute's start, ms since the epoch: counts as of its end, waits of the tasks that started in it.
  minute ${real} NOT NULL,
  taken_at ${real} NOT NULL,
  pending_1 INTEGER NOT NULL DEFAULT 0,
  pending_2 INTEGER NOT NULL DEFAULT 0,
  pending_3 INTEGER NOT NULL DEFAULT 0,
  pending_4 INTEGER NOT NULL DEFAULT 0,
  pending_5 INTEGER NOT NULL DEFAULT 0,
  -- Holding a machine slot: assigned, running or cancelling.
  running INTEGER NOT NULL DEFAULT 0,
  retrying INTEGER NOT NULL DEFAULT 0,
  -- Tasks that first started in the minute, and their wait (started_at - queued_at).
  started INTEGER NOT NULL DEFAULT 0,
  wait_p50_ms ${real},
  wait_p95_ms ${real},
  wait_max_ms ${real},
  -- Age of the oldest waiting task at the sample.
  oldest_wait_ms ${real},
  PRIMARY KEY (team_id, minute)
)`;

export const SQLITE_HISTORY_MIGRATION = {
  id: 11,
  name: 'queue history and usual run times',
  sql: `${SAMPLES('REAL', 'INTEGER')} WITHOUT ROWID;
CREATE INDEX queue_samples_minute ON queue_samples(minute);
CREATE INDEX tasks_started_at ON tasks(started_at)
  WHERE started_at IS NOT NULL AND status NOT IN ('assigned', 'running', 'cancelling');
CREATE INDEX tasks_usual_runs ON tasks(machine_id, substr(command, 1, 256), finished_at) WHERE status = 'completed';
`,
} as const;

export const PG_HISTORY_MIGRATION = {
  id: 11,
  name: 'queue history and usual run times',
  sql: `${SAMPLES('DOUBLE PRECISION', 'BIGINT')};
CREATE INDEX queue_samples_minute ON queue_samples(minute);
CREATE INDEX tasks_started_at ON tasks(started_at)
  WHERE started_at IS NOT NULL AND status NOT IN ('assigned', 'running', 'cancelling');
CREATE INDEX tasks_usual_runs ON tasks(machine_id, md5(command), finished_at) WHERE status = 'completed';
`,
} as const;
