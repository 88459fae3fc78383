/** Migration 7 (SQLite): notification channels, alert rules, threshold conditions and the delivery outbox. */
export const NOTIFY_MIGRATION_SQLITE = {
  id: 7,
  name: 'notifications',
  sql: `
-- Where a team's alerts go; secrets (signing secret, Slack URL, SMTP password) live in the team vault.
CREATE TABLE channels (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('webhook', 'slack', 'email')),
  config TEXT NOT NULL DEFAULT '{}',
  created_by TEXT,
  created_at REAL NOT NULL,
  UNIQUE (team_id, name)
);

-- A team's alert rule settings (JSON); no row: the defaults.
CREATE TABLE team_alert_rules (
  team_id INTEGER PRIMARY KEY REFERENCES teams(id) ON DELETE CASCADE,
  rules TEXT NOT NULL,
  updated_at REAL NOT NULL
);

-- Threshold conditions per team: breached since when, alerted when (one alert and one recovery per breach).
CREATE TABLE alert_conditions (
  team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  breached_since REAL,
  alerted_at REAL,
  PRIMARY KEY (team_id, key)
) WITHOUT ROWID;

-- Alerts wait here until they are fanned out to the team's channels; alerts from before count as done.
ALTER TABLE alerts ADD COLUMN fanned_out_at REAL;
ALTER TABLE alerts ADD COLUMN delivery_note TEXT;
UPDATE alerts SET fanned_out_at = created_at;
CREATE INDEX alerts_unfanned ON alerts(id) WHERE fanned_out_at IS NULL;

-- The outbox: one row per alert and channel, written before anything is sent.
CREATE TABLE alert_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  delivery_id TEXT NOT NULL UNIQUE,
  alert_id INTEGER NOT NULL,
  channel_id INTEGER NOT NULL,
  channel_name TEXT NOT NULL,
  channel_type TEXT NOT NULL,
  team_id INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'retrying', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at REAL NOT NULL,
  lease_until REAL,
  claimed_by TEXT,
  last_error TEXT,
  created_at REAL NOT NULL,
  expires_at REAL NOT NULL,
  sent_at REAL,
  updated_at REAL NOT NULL,
  UNIQUE (alert_id, channel_id)
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(next_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX alert_deliveries_leases ON alert_deliveries(lease_until) WHERE status = 'sending';
CREATE INDEX alert_deliveries_open ON alert_deliveries(channel_id) WHERE status IN ('pending', 'sending', 'retrying');

-- The longest-waiting task of each team, for the waiting-time rule, without a scan.
CREATE INDEX tasks_pending_wait ON tasks(team_id, queued_at) WHERE status = 'pending';
`,
} as const;
