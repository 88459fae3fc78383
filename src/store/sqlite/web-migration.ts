/** Migration 9 (SQLite): dashboard sessions, and an index for "failed in the last 24 h". */
export const SQLITE_WEB_MIGRATION = `
-- A browser session of the dashboard: the cookie holds a random secret, the
-- store only its SHA-256. A session opened with an API token ends with it.
CREATE TABLE web_sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  hash TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash TEXT,
  created_at REAL NOT NULL,
  last_seen_at REAL NOT NULL,
  idle_expires_at REAL NOT NULL,
  expires_at REAL NOT NULL,
  revoked_at REAL,
  source TEXT,
  user_agent TEXT
);
CREATE INDEX web_sessions_expiry ON web_sessions(expires_at);
CREATE INDEX web_sessions_user ON web_sessions(user_id);

-- Failures of the last day, counted without scanning the task table.
CREATE INDEX tasks_failed_at ON tasks(finished_at) WHERE status = 'failed';
`;
