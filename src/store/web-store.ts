/**
 * What the web dashboard needs from the store: browser sessions, and a few
 * counts for its pages. Every method is one atomic unit of work; `now` is a
 * parameter (ms since the epoch).
 */
export interface WebStore {
  createSession(s: NewWebSession): Promise<void>;
  /** A live session (not ended, not expired, its user enabled, its API token still valid), or null. */
  findSession(hash: string, now: number): Promise<WebSession | null>;
  /** Moves the idle expiry of a live session on. */
  touchSession(id: number, now: number, idleExpiresAt: number): Promise<void>;
  /** Ends a session; false when it was not live. */
  endSession(hash: string, now: number): Promise<boolean>;
  /** Deletes sessions that expired or ended before `before`; returns how many. */
  pruneSessions(before: number): Promise<number>;
  /** Tasks that ended `failed` at or after `since`, per team. */
  failedSince(since: number): Promise<{ team: string; failed: number }[]>;
  /** Where a waiting task stands in its queue, or null when it does not wait (or does not exist). */
  queuePlace(taskId: string): Promise<QueuePlace | null>;
}

export interface NewWebSession {
  /** SHA-256 (hex) of the secret in the cookie. */
  hash: string;
  userId: number;
  /** SHA-256 of the API token the session was opened with; null for a password login. */
  tokenHash: string | null;
  now: number;
  idleExpiresAt: number;
  expiresAt: number;
  source: string | null;
  userAgent: string | null;
}

export interface WebSession {
  id: number;
  userId: number;
  email: string;
  isAdmin: boolean;
  /** Opened with an API token rather than a password. */
  viaToken: boolean;
  createdAt: number;
  lastSeenAt: number;
  idleExpiresAt: number;
  expiresAt: number;
}

export interface QueuePlace {
  /** Pending tasks that go before it in its lane (its machine, or its region for a label selector). */
  ahead: number;
  /** The lane: the machine it waits for, or null for tasks placed by a selector. */
  machine: string | null;
  region: string;
  /** Set when the task belongs to a rolling batch. */
  batch: { maxRunning: number | null; running: number; halted: boolean } | null;
}
