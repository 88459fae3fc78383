import { SQLITE_HISTORY_MIGRATION } from '../history-migration.js';
import { TOKEN_SCOPE_MIGRATION } from '../token-scope-migration.js';
import { NOTIFY_MIGRATION_SQLITE } from './migration-notify.js';
import { SQLITE_SCHEDULES_MIGRATION } from './schedules-migration.js';
import { SQLITE_WEB_MIGRATION } from './web-migration.js';

/**
 * SQLite migrations: numbered and append-only. Never edit a shipped one; add
 * the next number instead. Times are REAL milliseconds since the epoch.
 */
export const SQLITE_MIGRATIONS: readonly { id: number; name: string; sql: string }[] = [
  {
    id: 1,
    name: 'core',
    sql: `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL UNIQUE,
  is_admin INTEGER NOT NULL DEFAULT 0,
  password_hash TEXT,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL
);

CREATE TABLE teams (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);
CREATE TABLE regions (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);

CREATE TABLE bridges (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  region_id INTEGER NOT NULL REFERENCES regions(id),
  last_seen_at REAL,
  running_count INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL
);

CREATE TABLE tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hash TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'bridge')),
  name TEXT NOT NULL,
  user_id INTEGER REFERENCES users(id),
  bridge_id INTEGER REFERENCES bridges(id),
  created_at REAL NOT NULL,
  expires_at REAL,
  revoked_at REAL,
  last_used_at REAL
);

CREATE TABLE machines (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  team_id INTEGER NOT NULL REFERENCES teams(id),
  region_id INTEGER NOT NULL REFERENCES regions(id),
  transport TEXT NOT NULL CHECK (transport IN ('local', 'ssh')),
  concurrency INTEGER NOT NULL CHECK (concurrency > 0),
  labels TEXT NOT NULL DEFAULT '{}',
  host TEXT,
  port INTEGER,
  ssh_user TEXT,
  running_count INTEGER NOT NULL DEFAULT 0,
  pending_count INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);
CREATE INDEX machines_region ON machines(region_id);

CREATE TABLE tasks (
  -- Never reused: it orders the queue (first in, first out).
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL UNIQUE,
  batch_id TEXT,
  team_id INTEGER NOT NULL REFERENCES teams(id),
  region_id INTEGER NOT NULL REFERENCES regions(id),
  machine_id INTEGER,
  machine_name TEXT NOT NULL,
  status TEXT NOT NULL,
  priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 5),
  command TEXT NOT NULL,
  env TEXT NOT NULL DEFAULT '{}',
  retry_count INTEGER NOT NULL,
  retry_delay_s REAL NOT NULL,
  backoff TEXT NOT NULL,
  failure_action TEXT NOT NULL,
  timeout_s REAL,
  attempts INTEGER NOT NULL DEFAULT 0,
  attempt_limit INTEGER NOT NULL,
  bridge_id INTEGER,
  lease_expires_at REAL,
  exit_code INTEGER,
  signal TEXT,
  reason TEXT,
  created_at REAL NOT NULL,
  -- When the task last entered the queue from outside (creation, manual retry); aging counts from here.
  queued_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL,
  retry_at REAL,
  output_bytes INTEGER NOT NULL DEFAULT 0,
  output_capped INTEGER NOT NULL DEFAULT 0,
  created_by TEXT
);
-- Claiming reads the head of each (machine, priority) lane of waiting tasks.
CREATE INDEX tasks_pending_lane ON tasks(machine_id, priority, seq) WHERE status = 'pending';
-- Oldest waiting task per priority, for queue stats.
CREATE INDEX tasks_pending_priority ON tasks(priority, seq) WHERE status = 'pending';
CREATE INDEX tasks_leases ON tasks(lease_expires_at) WHERE status IN ('assigned', 'running', 'cancelling');
CREATE INDEX tasks_retry_due ON tasks(retry_at) WHERE status = 'retrying';
CREATE INDEX tasks_cancelling ON tasks(bridge_id) WHERE status = 'cancelling';
CREATE INDEX tasks_status ON tasks(status, seq);
CREATE INDEX tasks_machine ON tasks(machine_name, seq);
CREATE INDEX tasks_batch ON tasks(batch_id, seq) WHERE batch_id IS NOT NULL;

CREATE TABLE attempts (
  task_seq INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  bridge_id INTEGER,
  machine_name TEXT NOT NULL,
  assigned_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL,
  exit_code INTEGER,
  signal TEXT,
  reason TEXT,
  last_chunk INTEGER NOT NULL DEFAULT -1,
  PRIMARY KEY (task_seq, attempt)
) WITHOUT ROWID;

CREATE TABLE output_chunks (
  id INTEGER PRIMARY KEY,
  task_seq INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  stream TEXT NOT NULL,
  at REAL NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX output_by_task ON output_chunks(task_seq, id);

CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  team_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  task_id TEXT,
  machine_name TEXT,
  message TEXT NOT NULL,
  created_at REAL NOT NULL
);
CREATE INDEX alerts_team ON alerts(team_id, id);

-- Maintained counters, so queue counts never scan the task table.
CREATE TABLE queue_counters (
  team_id INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  status TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (team_id, priority, status)
) WITHOUT ROWID;
`,
  },
  {
    id: 2,
    name: 'teams, vaults, audit, archive',
    sql: `
CREATE TABLE team_members (
  team_id INTEGER NOT NULL REFERENCES teams(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  role TEXT NOT NULL CHECK (role IN ('maintainer', 'operator', 'viewer')),
  added_at REAL NOT NULL,
  PRIMARY KEY (team_id, user_id)
) WITHOUT ROWID;
CREATE INDEX team_members_user ON team_members(user_id);

ALTER TABLE users ADD COLUMN setup_token_hash TEXT;
ALTER TABLE users ADD COLUMN setup_expires_at REAL;

-- The organisation's key derivation settings and a verifier (ciphertext of a
-- known text), so a wrong master password is told apart without any secret.
CREATE TABLE vault_master (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  kdf TEXT NOT NULL,
  verifier TEXT NOT NULL,
  updated_at REAL NOT NULL
);

-- Each team's random data key, wrapped by the key derived from the master password.
CREATE TABLE vault_team_keys (
  team_id INTEGER PRIMARY KEY REFERENCES teams(id),
  wrapped TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);

CREATE TABLE vault_secrets (
  team_id INTEGER NOT NULL REFERENCES teams(id),
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  ciphertext TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (team_id, name)
) WITHOUT ROWID;

-- Append-only, hash-chained: each row's hash covers its fields and the previous hash.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at REAL NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  team TEXT,
  source TEXT,
  outcome TEXT NOT NULL,
  details TEXT NOT NULL DEFAULT '{}',
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_at ON audit_log(at);

ALTER TABLE tasks ADD COLUMN output_archive TEXT;
-- Environment variables whose values come from the team vault: {"NAME": "vault key"}.
ALTER TABLE tasks ADD COLUMN secret_env TEXT NOT NULL DEFAULT '{}';
CREATE INDEX tasks_finished ON tasks(finished_at) WHERE finished_at IS NOT NULL AND output_archive IS NULL;
`,
  },
  {
    id: 3,
    name: 'ssh machines, health, placement',
    sql: `
ALTER TABLE machines ADD COLUMN host_key TEXT;
ALTER TABLE machines ADD COLUMN key_created_at REAL;
ALTER TABLE machines ADD COLUMN status TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE machines ADD COLUMN status_since REAL;
ALTER TABLE machines ADD COLUMN last_ok_at REAL;
ALTER TABLE machines ADD COLUMN last_error TEXT;
ALTER TABLE machines ADD COLUMN health_at REAL;
ALTER TABLE machines ADD COLUMN cpu_percent REAL;
ALTER TABLE machines ADD COLUMN load1 REAL;
ALTER TABLE machines ADD COLUMN mem_used REAL;
ALTER TABLE machines ADD COLUMN mem_total REAL;
ALTER TABLE machines ADD COLUMN disk_used REAL;
ALTER TABLE machines ADD COLUMN disk_total REAL;

-- One row per machine and minute (the last sample of that minute), kept for a day.
CREATE TABLE machine_health (
  machine_id INTEGER NOT NULL,
  minute INTEGER NOT NULL,
  cpu_percent REAL,
  load1 REAL,
  mem_used REAL,
  mem_total REAL,
  disk_used REAL,
  disk_total REAL,
  PRIMARY KEY (machine_id, minute)
) WITHOUT ROWID;

-- Tasks placed by a label selector get their machine when a slot frees.
ALTER TABLE tasks ADD COLUMN selector TEXT;
CREATE INDEX tasks_unplaced ON tasks(region_id, priority, seq) WHERE status = 'pending' AND machine_id IS NULL;
`,
  },
  {
    id: 4,
    name: 'rolling batches',
    sql: `
-- Limits of a rolling fan-out: at most max_running of its tasks at once, and
-- once more than max_failures have failed, the rest is cancelled (ROLLOUT_HALTED).
CREATE TABLE batch_limits (
  batch_id TEXT PRIMARY KEY,
  max_running INTEGER,
  max_failures INTEGER,
  running INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  halted_at REAL
) WITHOUT ROWID;

-- SSH keys older than their team's maximum age raise one alert per key.
ALTER TABLE teams ADD COLUMN max_key_age_days REAL;
ALTER TABLE machines ADD COLUMN key_alerted_at REAL;
`,
  },
  {
    id: 5,
    name: 'idempotency keys',
    sql: `
-- A retried create with the same Idempotency-Key answers the first result.
CREATE TABLE idempotency_keys (
  key TEXT NOT NULL,
  actor TEXT NOT NULL,
  response TEXT NOT NULL,
  created_at REAL NOT NULL,
  PRIMARY KEY (actor, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency_keys(created_at);
`,
  },
  {
    id: 6,
    name: 'claim ids',
    sql: `
-- A bridge that lost a claim answer asks again with the same id and gets the same unstarted tasks.
ALTER TABLE tasks ADD COLUMN claim_id TEXT;
CREATE INDEX tasks_by_claim ON tasks(bridge_id, claim_id) WHERE status = 'assigned';
`,
  },
  NOTIFY_MIGRATION_SQLITE,
  SQLITE_SCHEDULES_MIGRATION,
  { id: 9, name: 'web sessions', sql: SQLITE_WEB_MIGRATION },
  TOKEN_SCOPE_MIGRATION,
  SQLITE_HISTORY_MIGRATION,
];
