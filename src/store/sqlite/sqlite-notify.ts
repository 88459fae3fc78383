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
import type { Statements } from './connection.js';
import { claimDeliveries, deliveriesOf, deliveryNotes, finishDelivery } from './sqlite-outbox.js';
import { inTeams, uniqueOr } from './util.js';

export class SqliteNotify implements NotifyStore {
  constructor(private readonly st: Statements) {}

  private teamId(team: string): number {
    const t = this.st.get('SELECT id FROM teams WHERE name = ?').get(team) as { id: number } | undefined;
    if (t === undefined) throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
    return t.id;
  }

  async createChannel(
    input: NewChannel,
    secrets: readonly ChannelSecretWrite[],
    by: string,
    now: number,
  ): Promise<Channel> {
    return this.st.db
      .transaction(() => {
        const teamId = this.teamId(input.team);
        let id: number;
        try {
          id = (
            this.st
              .get(
                `INSERT INTO channels (team_id, name, type, config, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)
                 RETURNING id`,
              )
              .get(teamId, input.name, input.type, JSON.stringify(input.config), input.createdBy, now) as {
              id: number;
            }
          ).id;
        } catch (err) {
          throw uniqueOr(
            err,
            conflict('CHANNEL_EXISTS', `team '${input.team}' has a channel '${input.name}' already`),
          );
        }
        for (const s of secrets) {
          const cur = this.st
            .get('SELECT version FROM vault_secrets WHERE team_id = ? AND name = ?')
            .get(teamId, s.key) as { version: number } | undefined;
          const have = cur?.version ?? 0;
          if (have !== s.expectedVersion) {
            throw conflict(
              'VAULT_VERSION_CONFLICT',
              `'${s.key}' is at version ${have}, not ${s.expectedVersion}; nothing was created, try again`,
            );
          }
          this.st
            .get(
              `INSERT INTO vault_secrets (team_id, name, version, ciphertext, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (team_id, name) DO UPDATE SET version = excluded.version, ciphertext = excluded.ciphertext,
               updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
            )
            .run(teamId, s.key, have + 1, s.ciphertext, by, now);
        }
        return toChannel(this.st.get(`${CHANNEL_SELECT} WHERE c.id = ?`).get(id) as ChannelRow);
      })
      .immediate();
  }

  async listChannels(filter: { team?: string; teams?: ReadonlySet<string> | null }): Promise<Channel[]> {
    const rows = this.st
      .get(`${CHANNEL_SELECT} WHERE (? IS NULL OR t.name = ?) ORDER BY t.name, c.name`)
      .all(filter.team ?? null, filter.team ?? null) as ChannelRow[];
    return rows.filter((r) => inTeams(r.team, filter.teams)).map(toChannel);
  }

  async getChannel(team: string, name: string): Promise<Channel | null> {
    const r = this.st.get(`${CHANNEL_SELECT} WHERE t.name = ? AND c.name = ?`).get(team, name) as
      | ChannelRow
      | undefined;
    return r === undefined ? null : toChannel(r);
  }

  async deleteChannel(team: string, name: string, now: number): Promise<void> {
    this.st.db
      .transaction(() => {
        const teamId = this.teamId(team);
        const c = this.st.get('SELECT id FROM channels WHERE team_id = ? AND name = ?').get(teamId, name) as
          | { id: number }
          | undefined;
        if (c === undefined) throw notFound('CHANNEL_NOT_FOUND', `team '${team}' has no channel '${name}'`);
        this.st.get('DELETE FROM channels WHERE id = ?').run(c.id);
        const prefix = `channel/${name}/`;
        this.st
          .get('DELETE FROM vault_secrets WHERE team_id = ? AND substr(name, 1, ?) = ?')
          .run(teamId, prefix.length, prefix);
        this.st
          .get(
            `UPDATE alert_deliveries SET status = 'failed', last_error = ?, lease_until = NULL, claimed_by = NULL,
             updated_at = ? WHERE channel_id = ? AND status IN ('pending', 'sending', 'retrying')`,
          )
          .run(CHANNEL_GONE_ERROR, now, c.id);
      })
      .immediate();
  }

  async getAlertRules(team: string): Promise<string | null> {
    const r = this.st.get('SELECT rules FROM team_alert_rules WHERE team_id = ?').get(this.teamId(team)) as
      | { rules: string }
      | undefined;
    return r?.rules ?? null;
  }

  async setAlertRules(team: string, rules: string, now: number): Promise<void> {
    this.st
      .get(
        `INSERT INTO team_alert_rules (team_id, rules, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (team_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at`,
      )
      .run(this.teamId(team), rules, now);
  }

  async listAlertRules(): Promise<{ team: string; rules: string | null }[]> {
    return this.st
      .get(
        `SELECT t.name AS team, r.rules FROM teams t LEFT JOIN team_alert_rules r ON r.team_id = t.id ORDER BY t.name`,
      )
      .all() as { team: string; rules: string | null }[];
  }

  async pendingLevels(): Promise<{ team: string; priority: number; pending: number }[]> {
    return this.st
      .get(
        `SELECT t.name AS team, q.priority, q.n AS pending FROM queue_counters q JOIN teams t ON t.id = q.team_id
         WHERE q.status = 'pending' AND q.n > 0`,
      )
      .all() as { team: string; priority: number; pending: number }[];
  }

  async oldestWaiting(): Promise<{ team: string; taskId: string; machine: string; queuedAt: number }[]> {
    const teams = this.st.get('SELECT id, name FROM teams').all() as { id: number; name: string }[];
    const oldest = this.st.get(
      `SELECT task_id AS taskId, machine_name AS machine, queued_at AS queuedAt FROM tasks
       WHERE team_id = ? AND status = 'pending' ORDER BY queued_at LIMIT 1`,
    );
    const out: { team: string; taskId: string; machine: string; queuedAt: number }[] = [];
    for (const t of teams) {
      const r = oldest.get(t.id) as { taskId: string; machine: string; queuedAt: number } | undefined;
      if (r !== undefined) out.push({ team: t.name, ...r });
    }
    return out;
  }

  async observeConditions(observations: readonly ConditionObservation[], now: number): Promise<number> {
    return this.st.db
      .transaction(() => {
        let raised = 0;
        const ids = new Map<string, number>();
        const alert = this.st.get(
          `INSERT INTO alerts (team_id, kind, task_id, machine_name, message, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
        );
        for (const o of observations) {
          let teamId = ids.get(o.team);
          if (teamId === undefined) {
            teamId = this.teamId(o.team);
            ids.set(o.team, teamId);
          }
          const cur = this.st
            .get('SELECT breached_since, alerted_at FROM alert_conditions WHERE team_id = ? AND key = ?')
            .get(teamId, o.key) as { breached_since: number | null; alerted_at: number | null } | undefined;
          if (o.state === 'breached') {
            const since = cur?.breached_since ?? now;
            const fire = (cur?.alerted_at ?? null) === null && since + o.holdMs <= now;
            this.st
              .get(
                `INSERT INTO alert_conditions (team_id, key, breached_since, alerted_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (team_id, key) DO UPDATE SET breached_since = excluded.breached_since,
                 alerted_at = excluded.alerted_at`,
              )
              .run(teamId, o.key, since, fire ? now : (cur?.alerted_at ?? null));
            if (fire) {
              alert.run(
                teamId,
                o.fire.kind,
                o.fire.taskId ?? null,
                o.fire.machine ?? null,
                o.fire.message,
                now,
              );
              raised += 1;
            }
          } else if (cur !== undefined) {
            if (o.state === 'clear' && cur.alerted_at !== null) {
              alert.run(teamId, o.recover.kind, null, null, o.recover.message, now);
              raised += 1;
            }
            this.st.get('DELETE FROM alert_conditions WHERE team_id = ? AND key = ?').run(teamId, o.key);
          }
        }
        return raised;
      })
      .immediate();
  }

  async fanOut(
    now: number,
    o: { limit: number; expiresAfterMs: number; muted: (kind: string, rules: string | null) => boolean },
  ): Promise<number> {
    return this.st.db
      .transaction(() => {
        const alerts = this.st
          .get(
            `SELECT a.id, a.team_id, a.kind, r.rules FROM alerts a LEFT JOIN team_alert_rules r ON r.team_id = a.team_id
             WHERE a.fanned_out_at IS NULL ORDER BY a.id LIMIT ?`,
          )
          .all(o.limit) as { id: number; team_id: number; kind: string; rules: string | null }[];
        const channelsOf = new Map<number, { id: number; name: string; type: string }[]>();
        const insert = this.st.get(
          `INSERT INTO alert_deliveries (delivery_id, alert_id, channel_id, channel_name, channel_type, team_id, status,
             next_at, created_at, expires_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT (alert_id, channel_id) DO NOTHING`,
        );
        const done = this.st.get('UPDATE alerts SET fanned_out_at = ?, delivery_note = ? WHERE id = ?');
        let written = 0;
        for (const a of alerts) {
          let channels = channelsOf.get(a.team_id);
          if (channels === undefined) {
            channels = this.st
              .get('SELECT id, name, type FROM channels WHERE team_id = ? ORDER BY id')
              .all(a.team_id) as { id: number; name: string; type: string }[];
            channelsOf.set(a.team_id, channels);
          }
          const muted = o.muted(a.kind, a.rules);
          if (!muted) {
            for (const c of channels) {
              written += insert.run(
                randomUUID(),
                a.id,
                c.id,
                c.name,
                c.type,
                a.team_id,
                now,
                now,
                now + o.expiresAfterMs,
                now,
              ).changes;
            }
          }
          done.run(now, muted ? MUTED_NOTE : channels.length === 0 ? NO_CHANNEL_NOTE : null, a.id);
        }
        return written;
      })
      .immediate();
  }

  async claimDeliveries(o: {
    now: number;
    replica: string;
    leaseMs: number;
    max: number;
  }): Promise<{ deliveries: ClaimedDelivery[]; expired: { channelType: ChannelType }[] }> {
    return claimDeliveries(this.st, o);
  }

  async finishDelivery(id: number, replica: string, result: DeliveryResult, now: number): Promise<boolean> {
    return finishDelivery(this.st, id, replica, result, now);
  }

  async deliveriesOf(alertIds: readonly number[]): Promise<DeliveryState[]> {
    return deliveriesOf(this.st, alertIds);
  }

  async deliveryNotes(alertIds: readonly number[]): Promise<Map<number, string>> {
    return deliveryNotes(this.st, alertIds);
  }
}
