import type { Alert } from '../core/types.js';

/**
 * Notification channels, alert rule settings and the delivery outbox.
 *
 * - channel: where a team's alerts go (a webhook, a Slack incoming webhook, an
 *   SMTP mailbox). Its secrets live in the team vault as `channel/NAME/KEY`.
 * - delivery: one alert to one channel; a row of the outbox, written before
 *   anything is sent, claimed by one replica at a time, retried until it is
 *   sent or expires.
 * - condition: a threshold (queue length, waiting time) of a team, with since
 *   when it has been breached and whether it was alerted, so each breach
 *   raises one alert and one recovery notice across all replicas.
 */

export const CHANNEL_TYPES = ['webhook', 'slack', 'email'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export const SMTP_TLS_MODES = ['none', 'starttls', 'tls'] as const;
export type SmtpTls = (typeof SMTP_TLS_MODES)[number];

/** What a channel keeps outside the vault (nothing secret). */
export interface ChannelConfig {
  /** webhook: where the JSON is POSTed. */
  url?: string;
  /** email: SMTP server and addresses. */
  smtp?: { host: string; port: number; tls: SmtpTls; user: string | null };
  from?: string;
  to?: string[];
}

export interface Channel {
  id: number;
  team: string;
  name: string;
  type: ChannelType;
  config: ChannelConfig;
  /** Vault keys (`channel/NAME/KEY`) the channel reads when it sends. */
  secretKeys: string[];
  createdBy: string | null;
  createdAt: number;
}

export interface NewChannel {
  team: string;
  name: string;
  type: ChannelType;
  config: ChannelConfig;
  createdBy: string | null;
}

/** A vault value written with the channel, in the same transaction (ciphertext made by the client). */
export interface ChannelSecretWrite {
  /** Full vault key, `channel/NAME/KEY`. */
  key: string;
  ciphertext: string;
  /** The version it replaces; 0 for a new key. */
  expectedVersion: number;
}

export const DELIVERY_STATUSES = ['pending', 'sending', 'retrying', 'sent', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** A delivery as `list alerts` shows it. */
export interface DeliveryState {
  alertId: number;
  deliveryId: string;
  channel: string;
  channelType: ChannelType;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  nextAt: number | null;
  sentAt: number | null;
  expiresAt: number;
  updatedAt: number;
}

/** A delivery this replica claimed and now sends. */
export interface ClaimedDelivery {
  id: number;
  deliveryId: string;
  /** This attempt, 1-based. */
  attempt: number;
  expiresAt: number;
  alert: Alert;
  channel: Channel;
}

export type DeliveryResult =
  | { status: 'sent' }
  | { status: 'retrying'; nextAt: number; error: string }
  | { status: 'failed'; error: string };

/** One threshold of one team as an evaluation saw it. */
export interface ConditionObservation {
  team: string;
  /** e.g. `queue`, `queue:p1`, `wait`. */
  key: string;
  /** breached: over the threshold now; clear: under it (a recovery notice if it had alerted); off: rule off, forget silently. */
  state: 'breached' | 'clear' | 'off';
  /** How long it must stay breached before it alerts. */
  holdMs: number;
  fire: { kind: string; message: string; taskId?: string | null; machine?: string | null };
  recover: { kind: string; message: string };
}

export interface NotifyStore {
  /** Creates a channel and writes its vault values at once; a taken name is CHANNEL_EXISTS. */
  createChannel(
    input: NewChannel,
    secrets: readonly ChannelSecretWrite[],
    by: string,
    now: number,
  ): Promise<Channel>;
  listChannels(filter: { team?: string; teams?: ReadonlySet<string> | null }): Promise<Channel[]>;
  getChannel(team: string, name: string): Promise<Channel | null>;
  /** Deletes a channel and its vault values (`channel/NAME/*`); its unsent deliveries fail. */
  deleteChannel(team: string, name: string, now: number): Promise<void>;

  /** The team's stored rule settings (JSON text), or null for the defaults. */
  getAlertRules(team: string): Promise<string | null>;
  setAlertRules(team: string, rules: string, now: number): Promise<void>;
  /** Every team with its rule settings (null: defaults). */
  listAlertRules(): Promise<{ team: string; rules: string | null }[]>;

  /** Pending tasks per team and priority, from the maintained counters. */
  pendingLevels(): Promise<{ team: string; priority: number; pending: number }[]>;
  /** The longest-waiting pending task of each team that has one. */
  oldestWaiting(): Promise<{ team: string; taskId: string; machine: string; queuedAt: number }[]>;
  /** Applies observations; raises one alert per breach and one per recovery. Returns how many. */
  observeConditions(observations: readonly ConditionObservation[], now: number): Promise<number>;

  /**
   * Turns new alerts into outbox rows, one per channel of the alert's team
   * (none when `muted` says the team turned that kind off). Safe on every
   * replica at once: a (alert, channel) pair is written once.
   */
  fanOut(
    now: number,
    o: { limit: number; expiresAfterMs: number; muted: (kind: string, rules: string | null) => boolean },
  ): Promise<number>;
  /**
   * Claims due deliveries for `replica` (and takes back those whose sender's
   * lease ran out); deliveries past their expiry fail instead. Two replicas
   * never hold the same delivery.
   */
  claimDeliveries(o: {
    now: number;
    replica: string;
    leaseMs: number;
    max: number;
  }): Promise<{ deliveries: ClaimedDelivery[]; expired: { channelType: ChannelType }[] }>;
  /** Records an attempt's result, if `replica` still holds the delivery; false otherwise. */
  finishDelivery(id: number, replica: string, result: DeliveryResult, now: number): Promise<boolean>;
  /** Deliveries of these alerts, for `list alerts`. */
  deliveriesOf(alertIds: readonly number[]): Promise<DeliveryState[]>;
  /** Why an alert has no deliveries (no channel, kind turned off), by alert id. */
  deliveryNotes(alertIds: readonly number[]): Promise<Map<number, string>>;
}

/** The vault key of a channel's value: `channel/NAME/KEY`. */
export function channelVaultKey(channel: string, key: string): string {
  return `channel/${channel}/${key}`;
}

/** Which vault values a channel reads when it sends: the webhook's signing secret, Slack's URL, SMTP's password. */
export function channelSecretNames(type: ChannelType, config: ChannelConfig): string[] {
  if (type === 'webhook') return ['secret'];
  if (type === 'slack') return ['url'];
  return config.smtp?.user ? ['password'] : [];
}
