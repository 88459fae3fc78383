import {
  CHANNEL_GONE_ERROR,
  CLAIMED_SELECT,
  type ClaimedRow,
  claimedAlert,
  DELIVERY_COLUMNS,
  type DeliveryRow,
  expiredError,
  LOST_LEASE_ERROR,
  toChannel,
  toDeliveryState,
  UNFANNED_NOTE,
} from '../notify-rows.js';
import type { ChannelType, ClaimedDelivery, DeliveryResult, DeliveryState } from '../notify-store.js';
import type { Statements } from './connection.js';

/**
 * The outbox on SQLite: one server process owns the file, and every claim is
 * one `BEGIN IMMEDIATE` transaction, so a delivery is never claimed twice.
 */
export function claimDeliveries(
  st: Statements,
  o: { now: number; replica: string; leaseMs: number; max: number },
): { deliveries: ClaimedDelivery[]; expired: { channelType: ChannelType }[] } {
  return st.db
    .transaction(() => {
      const gone = st
        .get(
          `SELECT id, channel_type, last_error FROM alert_deliveries
           WHERE (status IN ('pending', 'retrying') OR (status = 'sending' AND lease_until <= ?)) AND expires_at <= ?`,
        )
        .all(o.now, o.now) as { id: number; channel_type: ChannelType; last_error: string | null }[];
      const fail = st.get(
        `UPDATE alert_deliveries SET status = 'failed', last_error = ?, lease_until = NULL, claimed_by = NULL,
         updated_at = ? WHERE id = ?`,
      );
      for (const g of gone) fail.run(expiredError(g.last_error), o.now, g.id);
      const due = st
        .get(
          `SELECT id FROM alert_deliveries WHERE status IN ('pending', 'retrying') AND next_at <= ? ORDER BY next_at LIMIT ?`,
        )
        .all(o.now, o.max) as { id: number }[];
      const lost = st
        .get(`SELECT id FROM alert_deliveries WHERE status = 'sending' AND lease_until <= ? LIMIT ?`)
        .all(o.now, o.max) as { id: number }[];
      const ids = [...due, ...lost].slice(0, o.max).map((r) => r.id);
      const take = st.get(
        `UPDATE alert_deliveries SET last_error = CASE WHEN status = 'sending' THEN ? ELSE last_error END,
           status = 'sending', attempts = attempts + 1, lease_until = ?, claimed_by = ?, updated_at = ?
         WHERE id = ?`,
      );
      const read = st.get(`${CLAIMED_SELECT} WHERE d.id = ?`);
      const deliveries: ClaimedDelivery[] = [];
      for (const id of ids) {
        take.run(LOST_LEASE_ERROR, o.now + o.leaseMs, o.replica, o.now, id);
        const r = read.get(id) as ClaimedRow | undefined;
        // The channel, or its whole team, is gone.
        if (r === undefined || r.id === null) {
          fail.run(CHANNEL_GONE_ERROR, o.now, id);
          continue;
        }
        deliveries.push({
          id: r.d_id,
          deliveryId: r.delivery_id,
          attempt: r.attempts,
          expiresAt: r.expires_at,
          alert: claimedAlert(r),
          channel: toChannel({ ...r, id: r.id }),
        });
      }
      return { deliveries, expired: gone.map((g) => ({ channelType: g.channel_type })) };
    })
    .immediate();
}

export function finishDelivery(
  st: Statements,
  id: number,
  replica: string,
  result: DeliveryResult,
  now: number,
): boolean {
  const where = `WHERE id = ? AND claimed_by = ? AND status = 'sending'`;
  if (result.status === 'sent') {
    return (
      st
        .get(
          `UPDATE alert_deliveries SET status = 'sent', sent_at = ?, lease_until = NULL, updated_at = ? ${where}`,
        )
        .run(now, now, id, replica).changes > 0
    );
  }
  if (result.status === 'retrying') {
    return (
      st
        .get(
          `UPDATE alert_deliveries SET status = 'retrying', next_at = ?, last_error = ?, lease_until = NULL,
           claimed_by = NULL, updated_at = ? ${where}`,
        )
        .run(result.nextAt, result.error, now, id, replica).changes > 0
    );
  }
  return (
    st
      .get(
        `UPDATE alert_deliveries SET status = 'failed', last_error = ?, lease_until = NULL, updated_at = ? ${where}`,
      )
      .run(result.error, now, id, replica).changes > 0
  );
}

export function deliveriesOf(st: Statements, alertIds: readonly number[]): DeliveryState[] {
  if (alertIds.length === 0) return [];
  const rows = st
    .get(
      `SELECT ${DELIVERY_COLUMNS} FROM alert_deliveries d
       WHERE d.alert_id IN (SELECT value FROM json_each(?)) ORDER BY d.alert_id, d.id`,
    )
    .all(JSON.stringify(alertIds)) as DeliveryRow[];
  return rows.map(toDeliveryState);
}

export function deliveryNotes(st: Statements, alertIds: readonly number[]): Map<number, string> {
  if (alertIds.length === 0) return new Map();
  const rows = st
    .get(
      `SELECT id, delivery_note, fanned_out_at FROM alerts
       WHERE id IN (SELECT value FROM json_each(?)) AND (delivery_note IS NOT NULL OR fanned_out_at IS NULL)`,
    )
    .all(JSON.stringify(alertIds)) as {
    id: number;
    delivery_note: string | null;
    fanned_out_at: number | null;
  }[];
  return new Map(rows.map((r) => [r.id, r.fanned_out_at === null ? UNFANNED_NOTE : (r.delivery_note ?? '')]));
}
