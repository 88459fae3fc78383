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
import type { Q } from './pg-connection.js';

/**
 * The outbox on PostgreSQL. Replicas claim with `FOR UPDATE SKIP LOCKED`: each
 * takes rows no other holds, and the claim (status `sending`, a lease, the
 * replica's name) commits before anything is sent.
 */
export async function claimDeliveries(
  q: Q,
  o: { now: number; replica: string; leaseMs: number; max: number },
): Promise<{ deliveries: ClaimedDelivery[]; expired: { channelType: ChannelType }[] }> {
  const gone = await q.rows<{ id: number; channel_type: ChannelType; last_error: string | null }>(
    `SELECT id, channel_type, last_error FROM alert_deliveries
     WHERE (status IN ('pending', 'retrying') OR (status = 'sending' AND lease_until <= $1)) AND expires_at <= $1
     LIMIT 1000 FOR UPDATE SKIP LOCKED`,
    [o.now],
  );
  for (const g of gone) {
    await q.run(
      `UPDATE alert_deliveries SET status = 'failed', last_error = $1, lease_until = NULL, claimed_by = NULL,
       updated_at = $2 WHERE id = $3`,
      [expiredError(g.last_error), o.now, g.id],
    );
  }
  const taken = await q.rows<{ id: number }>(
    `WITH due AS (
       SELECT id FROM alert_deliveries WHERE status IN ('pending', 'retrying') AND next_at <= $1
       ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED
     ), lost AS (
       SELECT id FROM alert_deliveries WHERE status = 'sending' AND lease_until <= $1
       LIMIT $2 FOR UPDATE SKIP LOCKED
     )
     UPDATE alert_deliveries d
       SET last_error = CASE WHEN d.status = 'sending' THEN $5 ELSE d.last_error END,
           status = 'sending', attempts = d.attempts + 1, lease_until = $1 + $3, claimed_by = $4, updated_at = $1
     WHERE d.id IN (SELECT id FROM (SELECT id FROM due UNION SELECT id FROM lost) x LIMIT $2)
     RETURNING d.id`,
    [o.now, o.max, o.leaseMs, o.replica, LOST_LEASE_ERROR],
  );
  const deliveries: ClaimedDelivery[] = [];
  if (taken.length > 0) {
    const rows = await q.rows<ClaimedRow>(`${CLAIMED_SELECT} WHERE d.id = ANY($1::bigint[]) ORDER BY d.id`, [
      taken.map((t) => t.id),
    ]);
    // The channel, or its whole team, is gone: those fail.
    const found = new Set(rows.filter((r) => r.id !== null).map((r) => r.d_id));
    const orphans = taken.map((t) => t.id).filter((id) => !found.has(id));
    if (orphans.length > 0) {
      await q.run(
        `UPDATE alert_deliveries SET status = 'failed', last_error = $1, lease_until = NULL, updated_at = $2
         WHERE id = ANY($3::bigint[])`,
        [CHANNEL_GONE_ERROR, o.now, orphans],
      );
    }
    for (const r of rows) {
      if (r.id === null) continue;
      deliveries.push({
        id: r.d_id,
        deliveryId: r.delivery_id,
        attempt: r.attempts,
        expiresAt: r.expires_at,
        alert: claimedAlert(r),
        channel: toChannel({ ...r, id: r.id }),
      });
    }
  }
  return { deliveries, expired: gone.map((g) => ({ channelType: g.channel_type })) };
}

export async function finishDelivery(
  q: Q,
  id: number,
  replica: string,
  result: DeliveryResult,
  now: number,
): Promise<boolean> {
  const where = `WHERE id = $1 AND claimed_by = $2 AND status = 'sending'`;
  if (result.status === 'sent') {
    return (
      (await q.run(
        `UPDATE alert_deliveries SET status = 'sent', sent_at = $3, lease_until = NULL, updated_at = $3 ${where}`,
        [id, replica, now],
      )) > 0
    );
  }
  if (result.status === 'retrying') {
    return (
      (await q.run(
        `UPDATE alert_deliveries SET status = 'retrying', next_at = $3, last_error = $4, lease_until = NULL,
         claimed_by = NULL, updated_at = $5 ${where}`,
        [id, replica, result.nextAt, result.error, now],
      )) > 0
    );
  }
  return (
    (await q.run(
      `UPDATE alert_deliveries SET status = 'failed', last_error = $3, lease_until = NULL, updated_at = $4 ${where}`,
      [id, replica, result.error, now],
    )) > 0
  );
}

export async function deliveriesOf(q: Q, alertIds: readonly number[]): Promise<DeliveryState[]> {
  if (alertIds.length === 0) return [];
  const rows = await q.rows<DeliveryRow>(
    `SELECT ${DELIVERY_COLUMNS} FROM alert_deliveries d WHERE d.alert_id = ANY($1::bigint[]) ORDER BY d.alert_id, d.id`,
    [alertIds],
  );
  return rows.map(toDeliveryState);
}

export async function deliveryNotes(q: Q, alertIds: readonly number[]): Promise<Map<number, string>> {
  if (alertIds.length === 0) return new Map();
  const rows = await q.rows<{ id: number; delivery_note: string | null; fanned_out_at: number | null }>(
    `SELECT id, delivery_note, fanned_out_at FROM alerts
     WHERE id = ANY($1::bigint[]) AND (delivery_note IS NOT NULL OR fanned_out_at IS NULL)`,
    [alertIds],
  );
  return new Map(rows.map((r) => [r.id, r.fanned_out_at === null ? UNFANNED_NOTE : (r.delivery_note ?? '')]));
}
