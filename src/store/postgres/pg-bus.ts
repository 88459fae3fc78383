import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { ANY_TOPIC, type Bus, type BusEvent } from '../../server/bus.js';
import type { Store } from '../store.js';

export interface PgBusOptions {
  /** Where output announced by another replica is read back: output events cross with ids only. */
  store: Pick<Store, 'listOutput'>;
  /** The NOTIFY channel every replica listens on. Default `rediacc`. */
  channel?: string;
  /** First wait before the LISTEN connection is opened again after a loss, in ms; doubles per failure. Default 100. */
  reconnectMinMs?: number;
  /** Longest wait between two reconnection tries, in ms. Default 5,000. */
  reconnectMaxMs?: number;
  /** Lost connections, failed NOTIFYs, unreadable notifications. Default: ignored. */
  onError?: (err: unknown) => void;
}

/** PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more; stay clear of it. */
export const MAX_PAYLOAD_BYTES = 7_900;

/** What crosses between replicas: output goes as ids, the listener reads the chunk from the store. */
type WireEvent = Exclude<BusEvent, { type: 'output' }> | { type: 'output'; taskId: string; chunkId: number };

/** One notification: the events one replica published in one turn of its event loop (or a part). */
interface Wire {
  /** The publishing bus, which skips its own notifications (it told its subscribers already). */
  o: string;
  e: { t: string; v: WireEvent }[];
}

/** Packs events into as few payloads under the size limit as they fit; a repeated wake of a topic goes once. */
export function packEvents(origin: string, events: readonly { t: string; v: WireEvent }[]): string[] {
  const out: string[] = [];
  const head = `{"o":${JSON.stringify(origin)},"e":[`;
  let parts: string[] = [];
  let size = head.length + 2;
  const woken = new Set<string>();
  for (const ev of events) {
    if (ev.v.type === 'wake') {
      if (woken.has(ev.t)) continue;
      woken.add(ev.t);
    }
    let part = JSON.stringify(ev);
    if (Buffer.byteLength(part) + head.length + 2 > MAX_PAYLOAD_BYTES) {
      part = JSON.stringify({ t: ev.t, v: { type: 'wake' } });
      if (Buffer.byteLength(part) + head.length + 2 > MAX_PAYLOAD_BYTES) continue;
    }
    const bytes = Buffer.byteLength(part) + 1;
    if (parts.length > 0 && size + bytes > MAX_PAYLOAD_BYTES) {
      out.push(`${head}${parts.join(',')}]}`);
      parts = [];
      size = head.length + 2;
    }
    parts.push(part);
    size += bytes;
  }
  if (parts.length > 0) out.push(`${head}${parts.join(',')}]}`);
  return out;
}

/**
 * The bus between server replicas on one PostgreSQL database. `publish` tells
 * this process's subscribers at once and every other replica through NOTIFY
 * on one channel; one dedicated LISTEN connection feeds the local
 * subscribers, and comes back with backoff after a loss. Events published
 * while it was away are lost, so every subscribed topic then gets a `wake`:
 * subscribers treat events as hints and re-read the store.
 */
export class PgBus implements Bus {
  private readonly id = randomUUID();
  private readonly emitter = new EventEmitter();
  private readonly channel: string;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly onError: (err: unknown) => void;
  /** One connection, so notifications leave in the order they were published. */
  private readonly publisher: pg.Pool;
  private listener: pg.Client | null = null;
  private retryMs: number;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Remote events are handed on in arrival order, output after it was read back. */
  private inbox: Promise<void> = Promise.resolve();
  /** Events waiting to be sent: one NOTIFY query at a time carries all that gathered meanwhile. */
  private outbox: { t: string; v: WireEvent }[] = [];
  private sending = false;

  constructor(
    private readonly connectionString: string,
    private readonly options: PgBusOptions,
  ) {
    this.emitter.setMaxListeners(0);
    this.channel = options.channel ?? 'rediacc';
    this.minMs = options.reconnectMinMs ?? 100;
    this.maxMs = options.reconnectMaxMs ?? 5_000;
    this.retryMs = this.minMs;
    this.onError = options.onError ?? (() => {});
    this.publisher = new pg.Pool({
      connectionString,
      max: 1,
      connectionTimeoutMillis: 10_000,
      application_name: 'rediacc-bus',
    });
    this.publisher.on('error', (err) => this.onError(err));
  }

  /** Opens the LISTEN connection; rejects if it cannot (call again). Later losses reconnect by themselves. */
  async start(): Promise<void> {
    if (this.closed) throw new Error('the bus is closed');
    if (this.listener !== null) return;
    await this.listen();
  }

  publish(topic: string, event: BusEvent): void {
    this.emitter.emit(topic, event);
    if (topic !== ANY_TOPIC) this.emitter.emit(ANY_TOPIC, event);
    if (this.closed) return;
    const wire: WireEvent =
      event.type === 'output' ? { type: 'output', taskId: event.taskId, chunkId: event.chunk.id } : event;
    this.outbox.push({ t: topic, v: wire });
    if (!this.sending) {
      this.sending = true;
      setImmediate(() => this.send());
    }
  }

  /**
   * Sends what gathered as few notifications in one query, then what gathered
   * while that ran. One query at a time: a busy replica never queues more
   * NOTIFYs than its one connection can carry.
   */
  private send(): void {
    const events = this.outbox;
    this.outbox = [];
    if (events.length === 0 || this.closed) {
      this.sending = false;
      return;
    }
    const payloads = packEvents(this.id, events);
    this.publisher
      .query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [this.channel, payloads])
      .catch(this.onError)
      .finally(() => this.send());
  }

  subscribe(topic: string, listener: (event: BusEvent) => void): () => void {
    this.emitter.on(topic, listener);
    return () => this.emitter.off(topic, listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    const listener = this.listener;
    this.listener = null;
    await Promise.all([listener?.end().catch(() => {}), this.publisher.end().catch(() => {})]);
    await this.inbox;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'rediacc-bus',
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the bus LISTEN connection ended')));
    client.on('notification', (n) => {
      if (n.channel === this.channel && n.payload !== undefined) this.receive(n.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.channel)}`);
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.listener = client;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.listener !== client) return;
    this.listener = null;
    client.end().catch(() => {});
    if (this.closed) return;
    this.onError(err);
    this.reconnect();
  }

  private reconnect(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.listen().then(
        () => {
          this.retryMs = this.minMs;
          // Whatever was published meanwhile never arrived: every subscriber looks again.
          for (const topic of this.emitter.eventNames()) this.deliver(String(topic), { type: 'wake' });
        },
        (err: unknown) => {
          if (this.closed) return;
          this.onError(err);
          this.retryMs = Math.min(this.maxMs, this.retryMs * 2);
          this.reconnect();
        },
      );
    }, this.retryMs);
    this.timer.unref();
  }

  private receive(payload: string): void {
    let wire: Wire;
    try {
      wire = JSON.parse(payload) as Wire;
    } catch (err) {
      this.onError(err);
      return;
    }
    if (wire.o === this.id || !Array.isArray(wire.e)) return;
    for (const { t: topic, v: event } of wire.e) {
      if (typeof topic !== 'string' || typeof event !== 'object' || event === null) continue;
      if (event.type !== 'output') {
        this.deliver(topic, event);
        continue;
      }
      this.inbox = this.inbox
        .then(async () => {
          // Output archived meanwhile is gone: nothing to hand on.
          const [chunk] = await this.options.store.listOutput(event.taskId, event.chunkId - 1, 1);
          if (chunk !== undefined && chunk.id === event.chunkId) {
            this.emitter.emit(topic, { type: 'output', taskId: event.taskId, chunk });
            if (topic !== ANY_TOPIC)
              this.emitter.emit(ANY_TOPIC, { type: 'output', taskId: event.taskId, chunk });
          }
        })
        .catch(this.onError);
    }
  }

  private deliver(topic: string, event: BusEvent): void {
    this.inbox = this.inbox
      .then(() => {
        this.emitter.emit(topic, event);
        if (topic !== ANY_TOPIC) this.emitter.emit(ANY_TOPIC, event);
      })
      .catch(this.onError);
  }
}
