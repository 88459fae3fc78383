import { randomUUID } from 'node:crypto';
import { conflict, notFound } from '../../core/errors.js';
import {
  CHANNEL_GONE_ERROR,
  CHANNEL_SELECT,
  type ChannelRow,
  MUTED_NOTE,
  NO_CHANNEL_NOTE,
  toChannel,
} from '../notify-rows.js';
import type {
  Channel,
  ChannelSecretWrite,
  ChannelType,
  ClaimedDelivery,
  ConditionObservation,
  DeliveryResult,
  DeliveryState,
  NewChannel,
  NotifyStore,
} from '../notify-store.js';
import type { PgDb, Q } from './pg-connection.js';
import { claimDeliveries, deliveriesOf, deliveryNotes, finishDelivery } from './pg-outbox.js';
import { inTeams, uniqueOr } from './pg-rows.js';

async function teamId(q: Q, team: string): Promise<number> {
  const t = await q.one<{ id: number }>('SELECT id FROM teams WHERE name = $1', [team]);
  if (t === undefined) throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
  return t.id;
}

/** Channels, rules, conditions and the outbox on the shared database: safe with any number of replicas. */
export class PgNotify implements NotifyStore {
  constructor(private readonly db: PgDb) {}

  async createChannel(
    input: NewChannel,
    secrets: readonly ChannelSecretWrite[],
    by: string,
    now: number,
  ): Promise<Channel> {
    return this.db.tx(async (q) => {
      const team = await teamId(q, input.team);
      const inserted = await q
        .one<{ id: number }>(
          `INSERT INTO channels (team_id, name, type, config, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id`,
          [team, input.name, input.type, JSON.stringify(input.config), input.createdBy, now],
        )
        .catch((err: unknown) => {
          throw uniqueOr(
            err,
            conflict('CHANNEL_EXISTS', `team '${input.team}' has a channel '${input.name}' already`),
          );
        });
      for (const s of secrets) {
        const written =
          s.expectedVersion === 0
            ? await q.run(
                `INSERT INTO vault_secrets (team_id, name, version, ciphertext, updated_by, updated_at)
                 VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT (team_id, name) DO NOTHING`,
                [team, s.key, s.ciphertext, by, now],
              )
            : await q.run(
                `UPDATE vault_secrets SET version = version + 1, ciphertext = $3, updated_by = $4, updated_at = $5
                 WHERE team_id = $1 AND name = $2 AND version = $6`,
                [team, s.key, s.ciphertext, by, now, s.expectedVersion],
              );
        if (written === 0) {
          throw conflict(
            'VAULT_VERSION_CONFLICT',
            `'${s.key}' is not at version ${s.expectedVersion}; nothing was created, try again`,
          );
        }
      }
      return toChannel(
        (await q.one<ChannelRow>(`${CHANNEL_SELECT} WHERE c.id = $1`, [inserted?.id])) as ChannelRow,
      );
    });
  }

  async listChannels(filter: { team?: string; teams?: ReadonlySet<string> | null }): Promise<Channel[]> {
    const rows = await this.db.rows<ChannelRow>(
      `${CHANNEL_SELECT} WHERE ($1::text IS NULL OR t.name = $1) ORDER BY t.name, c.name`,
      [filter.team ?? null],
    );
    return rows.filter((r) => inTeams(r.team, filter.teams)).map(toChannel);
  }

  async getChannel(team: string, name: string): Promise<Channel | null> {
    const r = await this.db.one<ChannelRow>(`${CHANNEL_SELECT} WHERE t.name = $1 AND c.name = $2`, [
      team,
      name,
    ]);
    return r === undefined ? null : toChannel(r);
  }

  async deleteChannel(team: string, name: string, now: number): Promise<void> {
    await this.db.tx(async (q) => {
      const id = await teamId(q, team);
      const c = await q.one<{ id: number }>(
        'DELETE FROM channels WHERE team_id = $1 AND name = $2 RETURNING id',
        [id, name],
      );
      if (c === undefined) throw notFound('CHANNEL_NOT_FOUND', `team '${team}' has no channel '${name}'`);
      const prefix = `channel/${name}/`;
      await q.run('DELETE FROM vault_secrets WHERE team_id = $1 AND substr(name, 1, $2) = $3', [
        id,
        prefix.length,
        prefix,
      ]);
      await q.run(
        `UPDATE alert_deliveries SET status = 'failed', last_error = $1, lease_until = NULL, claimed_by = NULL,
         updated_at = $2 WHERE channel_id = $3 AND status IN ('pending', 'sending', 'retrying')`,
        [CHANNEL_GONE_ERROR, now, c.id],
      );
    });
  }

  async getAlertRules(team: string): Promise<string | null> {
    return this.db.tx(
      async (q) =>
        (
          await q.one<{ rules: string }>('SELECT rules FROM team_alert_rules WHERE team_id = $1', [
            await teamId(q, team),
          ])
        )?.rules ?? null,
    );
  }

  async setAlertRules(team: string, rules: string, now: number): Promise<void> {
    await this.db.tx(async (q) =>
      q.run(
        `INSERT INTO team_alert_rules (team_id, rules, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (team_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = EXCLUDED.updated_at`,
        [await teamId(q, team), rules, now],
      ),
    );
  }

  listAlertRules(): Promise<{ team: string; rules: string | null }[]> {
    return this.db.rows(
      `SELECT t.name AS team, r.rules FROM teams t LEFT JOIN team_alert_rules r ON r.team_id = t.id ORDER BY t.name`,
    );
  }

  pendingLevels(): Promise<{ team: string; priority: number; pending: number }[]> {
    return this.db.rows(
      `SELECT t.name AS team, q.priority, q.n AS pending FROM queue_counters q JOIN teams t ON t.id = q.team_id
       WHERE q.status = 'pending' AND q.n > 0`,
    );
  }

  oldestWaiting(): Promise<{ team: string; taskId: string; machine: string; queuedAt: number }[]> {
    return this.db.rows(
      `SELECT t.name AS team, w.task_id AS "taskId", w.machine_name AS machine, w.queued_at AS "queuedAt"
       FROM teams t CROSS JOIN LATERAL (
         SELECT task_id, machine_name, queued_at FROM tasks
         WHERE team_id = t.id AND status = 'pending' ORDER BY queued_at LIMIT 1) w`,
    );
  }

  /** Row locks per (team, key), taken in a fixed order: of replicas observing at once, one alerts. */
  async observeConditions(observations: readonly ConditionObservation[], now: number): Promise<number> {
    const sorted = [...observations].sort((a, b) =>
      a.team === b.team ? (a.key < b.key ? -1 : 1) : a.team < b.team ? -1 : 1,
    );
    return this.db.tx(async (q) => {
      let raised = 0;
      const ids = new Map<string, number>();
      const alert = (
        team: number,
        kind: string,
        taskId: string | null,
        machine: string | null,
        msg: string,
      ) =>
        q.run(
          `INSERT INTO alerts (team_id, kind, task_id, machine_name, message, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
          [team, kind, taskId, machine, msg, now],
        );
      for (const o of sorted) {
        let team = ids.get(o.team);
        if (team === undefined) {
          team = await teamId(q, o.team);
          ids.set(o.team, team);
        }
        if (o.state === 'breached') {
          const cur = (await q.one<{ breached_since: number; alerted_at: number | null }>(
            `INSERT INTO alert_conditions (team_id, key, breached_since) VALUES ($1, $2, $3)
             ON CONFLICT (team_id, key) DO UPDATE
               SET breached_since = COALESCE(alert_conditions.breached_since, EXCLUDED.breached_since)
             RETURNING breached_since, alerted_at`,
            [team, o.key, now],
          )) as { breached_since: number; alerted_at: number | null };
          if (cur.alerted_at !== null || cur.breached_since + o.holdMs > now) continue;
          const won = await q.run(
            'UPDATE alert_conditions SET alerted_at = $3 WHERE team_id = $1 AND key = $2 AND alerted_at IS NULL',
            [team, o.key, now],
          );
          if (won > 0) {
            await alert(team, o.fire.kind, o.fire.taskId ?? null, o.fire.machine ?? null, o.fire.message);
            raised += 1;
          }
          continue;
        }
        const cur = await q.one<{ alerted_at: number | null }>(
          'DELETE FROM alert_conditions WHERE team_id = $1 AND key = $2 RETURNING alerted_at',
          [team, o.key],
        );
        if (cur !== undefined && o.state === 'clear' && cur.alerted_at !== null) {
          await alert(team, o.recover.kind, null, null, o.recover.message);
          raised += 1;
        }
      }
      return raised;
    });
  }

  async fanOut(
    now: number,
    o: { limit: number; expiresAfterMs: number; muted: (kind: string, rules: string | null) => boolean },
  ): Promise<number> {
    return this.db.tx(async (q) => {
      // Replicas fanning out at once take different alerts; the unique (alert, channel) pair is the backstop.
      const alerts = await q.rows<{ id: number; team_id: number; kind: string; rules: string | null }>(
        `SELECT a.id, a.team_id, a.kind, r.rules FROM alerts a LEFT JOIN team_alert_rules r ON r.team_id = a.team_id
         WHERE a.fanned_out_at IS NULL ORDER BY a.id LIMIT $1 FOR UPDATE OF a SKIP LOCKED`,
        [o.limit],
      );
      const channelsOf = new Map<number, { id: number; name: string; type: string }[]>();
      let written = 0;
      for (const a of alerts) {
        let channels = channelsOf.get(a.team_id);
        if (channels === undefined) {
          channels = await q.rows<{ id: number; name: string; type: string }>(
            'SELECT id, name, type FROM channels WHERE team_id = $1 ORDER BY id',
            [a.team_id],
          );
          channelsOf.set(a.team_id, channels);
        }
        const muted = o.muted(a.kind, a.rules);
        if (!muted) {
          for (const c of channels) {
            written += await q.run(
              `INSERT INTO alert_deliveries (delivery_id, alert_id, channel_id, channel_name, channel_type, team_id,
                 status, next_at, created_at, expires_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7, $8, $7) ON CONFLICT (alert_id, channel_id) DO NOTHING`,
              [randomUUID(), a.id, c.id, c.name, c.type, a.team_id, now, now + o.expiresAfterMs],
            );
          }
        }
        await q.run('UPDATE alerts SET fanned_out_at = $1, delivery_note = $2 WHERE id = $3', [
          now,
          muted ? MUTED_NOTE : channels.length === 0 ? NO_CHANNEL_NOTE : null,
          a.id,
        ]);
      }
      return written;
    });
  }

  claimDeliveries(o: {
    now: number;
    replica: string;
    leaseMs: number;
    max: number;
  }): Promise<{ deliveries: ClaimedDelivery[]; expired: { channelType: ChannelType }[] }> {
    return this.db.tx((q) => claimDeliveries(q, o));
  }

  finishDelivery(id: number, replica: string, result: DeliveryResult, now: number): Promise<boolean> {
    return this.db.tx((q) => finishDelivery(q, id, replica, result, now));
  }

  deliveriesOf(alertIds: readonly number[]): Promise<DeliveryState[]> {
    return this.db.tx((q) => deliveriesOf(q, alertIds));
  }

  deliveryNotes(alertIds: readonly number[]): Promise<Map<number, string>> {
    return this.db.tx((q) => deliveryNotes(q, alertIds));
  }
}
