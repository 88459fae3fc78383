import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { deliveriesTotal } from '../server/metrics/registry.js';
import type { Channel, ChannelType, ClaimedDelivery, DeliveryResult } from '../store/notify-store.js';
import type { Store } from '../store/store.js';
import { observeLevels } from './conditions.js';
import { afterFailure } from './retry.js';
import { isMuted, parseRules } from './rules.js';
import { ChannelSecrets } from './secrets.js';
import { DeliveryError, send } from './senders.js';
import { type NotifySettings, resolveNotifySettings } from './settings.js';

export interface NotifierOptions {
  store: Store;
  logger: Logger;
  clock?: () => number;
  /** The vault master password, to open channel secrets; without it those deliveries fail and say why. */
  masterPassword?: string | undefined;
  /** This replica's name on the deliveries it claims. Default: host, pid and a random suffix. */
  replica?: string;
  settings?: Partial<NotifySettings>;
}

export interface TestOutcome {
  channel: string;
  team: string;
  type: ChannelType;
  ok: boolean;
  deliveryId: string;
  durationMs: number;
  error: string | null;
  code: string | null;
}

/** Most alerts handed to channels per round. */
const FAN_OUT_BATCH = 500;

/**
 * The notification worker of one replica. Every round it hands new alerts to
 * their team's channels (outbox rows), claims due deliveries and sends them;
 * every few seconds it checks queue length and waiting times against each
 * team's rules. All of it is safe on any number of replicas at once: the
 * store decides who takes what.
 */
export class Notifier {
  readonly replica: string;
  readonly settings: NotifySettings;
  private readonly store: Store;
  private readonly log: Logger;
  private readonly clock: () => number;
  private readonly secrets: ChannelSecrets;
  private stopped = true;
  private pollTimer: NodeJS.Timeout | null = null;
  private conditionTimer: NodeJS.Timeout | null = null;
  private readonly busy = new Set<Promise<unknown>>();

  constructor(o: NotifierOptions) {
    this.store = o.store;
    this.clock = o.clock ?? Date.now;
    this.settings = resolveNotifySettings(o.settings);
    this.replica = o.replica ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`.slice(0, 80);
    this.log = o.logger.child({ component: 'notify', replica: this.replica });
    this.secrets = new ChannelSecrets(o.store, o.masterPassword);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.pollTimer = setTimeout(this.poll, 0);
    this.conditionTimer = setTimeout(this.conditions, 0);
  }

  /** Stops both loops and waits for the sends under way (each ends within its timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    if (this.conditionTimer !== null) clearTimeout(this.conditionTimer);
    await Promise.allSettled([...this.busy]);
  }

  /** One round: fan out new alerts, claim due deliveries, send them. Returns how many were claimed. */
  async pump(): Promise<number> {
    const now = this.clock();
    await this.store.notify.fanOut(now, {
      limit: FAN_OUT_BATCH,
      expiresAfterMs: this.settings.expiryMs,
      muted: isMuted,
    });
    const { deliveries, expired } = await this.store.notify.claimDeliveries({
      now,
      replica: this.replica,
      leaseMs: this.settings.leaseMs,
      max: this.settings.batchSize,
    });
    for (const e of expired) deliveriesTotal.inc({ channel_type: e.channelType, outcome: 'expired' });
    if (expired.length > 0) this.log.warn({ expired: expired.length }, 'notifications expired unsent');
    await Promise.all(deliveries.map((d) => this.deliver(d)));
    return deliveries.length;
  }

  /** Checks every team's queue and waiting times against its rules; returns the alerts raised. */
  async checkConditions(): Promise<number> {
    const now = this.clock();
    const [rules, pending, oldest] = await Promise.all([
      this.store.notify.listAlertRules(),
      this.store.notify.pendingLevels(),
      this.store.notify.oldestWaiting(),
    ]);
    const teams = rules.map((r) => ({ team: r.team, rules: parseRules(r.rules) }));
    return this.store.notify.observeConditions(observeLevels(teams, { pending, oldest }, now), now);
  }

  /** Sends a test notice through a channel now, outside the outbox, and says how it went. */
  async test(channel: Channel): Promise<TestOutcome> {
    const deliveryId = randomUUID();
    const started = performance.now();
    const now = this.clock();
    const base = { channel: channel.name, team: channel.team, type: channel.type, deliveryId };
    try {
      await send(
        channel,
        {
          deliveryId,
          channel: channel.name,
          test: true,
          alert: {
            id: 0,
            kind: 'test',
            team: channel.team,
            taskId: null,
            machine: null,
            message: `test notification for channel ${channel.name} of team ${channel.team}`,
            createdAt: now,
          },
        },
        {
          secret: (key) => this.secrets.read(channel.team, key),
          attempt: 1,
          nowMs: now,
          timeoutMs: this.settings.sendTimeoutMs,
        },
      );
      return {
        ...base,
        ok: true,
        durationMs: Math.round(performance.now() - started),
        error: null,
        code: null,
      };
    } catch (err) {
      const e = asDeliveryError(err);
      return {
        ...base,
        ok: false,
        durationMs: Math.round(performance.now() - started),
        error: e.message,
        code: e.code,
      };
    }
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    const log = this.log.child({
      deliveryId: d.deliveryId,
      alertId: d.alert.id,
      team: d.alert.team,
      channel: d.channel.name,
      attempt: d.attempt,
    });
    let result: DeliveryResult;
    try {
      await send(
        d.channel,
        { deliveryId: d.deliveryId, channel: d.channel.name, alert: d.alert, test: false },
        {
          secret: (key) => this.secrets.read(d.channel.team, key),
          attempt: d.attempt,
          nowMs: this.clock(),
          timeoutMs: this.settings.sendTimeoutMs,
        },
      );
      result = { status: 'sent' };
    } catch (err) {
      result = afterFailure(d, asDeliveryError(err), this.clock(), this.settings.retryBaseSeconds);
    }
    const kept = await this.store.notify.finishDelivery(d.id, this.replica, result, this.clock());
    const outcome = result.status === 'sent' ? 'sent' : result.status === 'retrying' ? 'retry' : 'failed';
    deliveriesTotal.inc({ channel_type: d.channel.type, outcome });
    const fields = { outcome, ...(result.status === 'sent' ? {} : { error: result.error }), recorded: kept };
    if (result.status === 'failed') log.warn(fields, 'notification failed for good');
    else log.info(fields, result.status === 'sent' ? 'notification sent' : 'notification will be retried');
  }

  private readonly poll = (): void => {
    if (this.stopped) return;
    const round = this.pump().catch((err: unknown) => {
      this.log.error({ err }, 'notification round failed');
      return 0;
    });
    this.track(round).then((claimed) => {
      if (this.stopped) return;
      const full = claimed >= this.settings.batchSize;
      this.pollTimer = setTimeout(this.poll, full ? 0 : this.settings.pollIntervalMs);
      this.pollTimer.unref();
    });
  };

  private readonly conditions = (): void => {
    if (this.stopped) return;
    const round = this.checkConditions().catch((err: unknown) => {
      this.log.error({ err }, 'checking alert conditions failed');
      return 0;
    });
    this.track(round).then(() => {
      if (this.stopped) return;
      this.conditionTimer = setTimeout(this.conditions, this.settings.conditionIntervalMs);
      this.conditionTimer.unref();
    });
  };

  private track<T>(p: Promise<T>): Promise<T> {
    this.busy.add(p);
    return p.finally(() => this.busy.delete(p));
  }
}

function asDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DeliveryError(`unexpected error: ${message}`, true, 'NOTIFY_INTERNAL');
}
