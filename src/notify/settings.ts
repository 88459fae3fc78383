import { HOUR_MS, SECOND_MS } from '../core/time.js';

/** How the notifier works. Every field has a default; the environment may change them (see below). */
export interface NotifySettings {
  /** How often new alerts are handed to channels and due deliveries are sent. Default 1 s. */
  pollIntervalMs: number;
  /** How often queue length and waiting times are checked against the teams' rules. Default 15 s. */
  conditionIntervalMs: number;
  /** The first retry's delay; it doubles per attempt (with jitter, at most 1 h). Default 10 s. */
  retryBaseSeconds: number;
  /** A delivery not sent by then fails for good. Default 24 h. */
  expiryMs: number;
  /** How long a replica holds a delivery it sends; after that another may take it over. Default 60 s. */
  leaseMs: number;
  /** Longest wait for one receiver. Default 10 s (at most half the lease). */
  sendTimeoutMs: number;
  /** Deliveries one replica sends at once. Default 20. */
  batchSize: number;
}

export const DEFAULT_NOTIFY_SETTINGS: NotifySettings = {
  pollIntervalMs: SECOND_MS,
  conditionIntervalMs: 15 * SECOND_MS,
  retryBaseSeconds: 10,
  expiryMs: 24 * HOUR_MS,
  leaseMs: 60 * SECOND_MS,
  sendTimeoutMs: 10 * SECOND_MS,
  batchSize: 20,
};

/** Environment variables that change a default, with the unit they take. */
const ENV: Record<string, [keyof NotifySettings, number]> = {
  REDIACC_NOTIFY_POLL_MS: ['pollIntervalMs', 1],
  REDIACC_NOTIFY_CONDITION_MS: ['conditionIntervalMs', 1],
  REDIACC_NOTIFY_RETRY_SECONDS: ['retryBaseSeconds', 1],
  REDIACC_NOTIFY_EXPIRY_HOURS: ['expiryMs', HOUR_MS],
  REDIACC_NOTIFY_LEASE_SECONDS: ['leaseMs', SECOND_MS],
};

/** Defaults, then the environment, then what the caller gives. An unusable value fails loudly. */
export function resolveNotifySettings(
  given: Partial<NotifySettings> = {},
  env: NodeJS.ProcessEnv = process.env,
): NotifySettings {
  const out: NotifySettings = { ...DEFAULT_NOTIFY_SETTINGS };
  for (const [name, [field, unit]] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got '${raw}'`);
    out[field] = n * unit;
  }
  Object.assign(out, given);
  out.sendTimeoutMs = Math.min(out.sendTimeoutMs, out.leaseMs / 2);
  return out;
}
