import type { Alert } from '../core/types.js';
import {
  type Channel,
  type ChannelConfig,
  type ChannelType,
  channelSecretNames,
  channelVaultKey,
  type DeliveryState,
  type DeliveryStatus,
} from './notify-store.js';

// Row shapes and mappers both adapters share: their queries return the same columns.

export const CHANNEL_SELECT = `SELECT c.id, t.name AS team, c.name, c.type, c.config, c.created_by, c.created_at
  FROM channels c JOIN teams t ON t.id = c.team_id`;

export interface ChannelRow {
  id: number;
  team: string;
  name: string;
  type: string;
  config: string;
  created_by: string | null;
  created_at: number;
}

export function toChannel(r: ChannelRow): Channel {
  const type = r.type as ChannelType;
  const config = JSON.parse(r.config) as ChannelConfig;
  return {
    id: r.id,
    team: r.team,
    name: r.name,
    type,
    config,
    secretKeys: channelSecretNames(type, config).map((k) => channelVaultKey(r.name, k)),
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

export const DELIVERY_COLUMNS = `d.alert_id, d.delivery_id, d.channel_name, d.channel_type, d.status, d.attempts,
  d.last_error, d.next_at, d.sent_at, d.expires_at, d.updated_at`;

export interface DeliveryRow {
  alert_id: number;
  delivery_id: string;
  channel_name: string;
  channel_type: string;
  status: string;
  attempts: number;
  last_error: string | null;
  next_at: number;
  sent_at: number | null;
  expires_at: number;
  updated_at: number;
}

export function toDeliveryState(r: DeliveryRow): DeliveryState {
  const status = r.status as DeliveryStatus;
  return {
    alertId: r.alert_id,
    deliveryId: r.delivery_id,
    channel: r.channel_name,
    channelType: r.channel_type as ChannelType,
    status,
    attempts: r.attempts,
    lastError: r.last_error,
    nextAt: status === 'pending' || status === 'retrying' ? r.next_at : null,
    sentAt: r.sent_at,
    expiresAt: r.expires_at,
    updatedAt: r.updated_at,
  };
}

/** A claimed delivery joined with its alert and channel. */
export const CLAIMED_SELECT = `SELECT d.id AS d_id, d.delivery_id, d.attempts, d.expires_at,
  a.id AS a_id, a.kind, tm.name AS a_team, a.task_id, a.machine_name, a.message, a.created_at AS a_created_at,
  c.id, tm.name AS team, c.name, c.type, c.config, c.created_by, c.created_at
  FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id JOIN teams tm ON tm.id = d.team_id
  LEFT JOIN channels c ON c.id = d.channel_id`;

export interface ClaimedRow extends Omit<ChannelRow, 'id'> {
  id: number | null;
  d_id: number;
  delivery_id: string;
  attempts: number;
  expires_at: number;
  a_id: number;
  kind: string;
  a_team: string;
  task_id: string | null;
  machine_name: string | null;
  message: string;
  a_created_at: number;
}

export function claimedAlert(r: ClaimedRow): Alert {
  return {
    id: r.a_id,
    kind: r.kind,
    team: r.a_team,
    taskId: r.task_id,
    machine: r.machine_name,
    message: r.message,
    createdAt: r.a_created_at,
  };
}

export const LOST_LEASE_ERROR = 'the sender stopped before it finished (lease ran out); sending again';
export const CHANNEL_GONE_ERROR = 'the channel was deleted';
export const MUTED_NOTE = 'not sent: alerts of this kind are turned off for the team';
export const NO_CHANNEL_NOTE = 'not sent: the team has no channel';
export const UNFANNED_NOTE = 'waiting to be handed to the team’s channels';

/** The error of a delivery that ran out of time. */
export function expiredError(lastError: string | null): string {
  return lastError === null ? 'expired before it could be sent' : `expired; last error: ${lastError}`;
}
