import { connect as tcpConnect } from 'node:net';
import type { Logger } from 'pino';
import ssh2, { type Client, type ClientChannel } from 'ssh2';

export interface SshTarget {
  name: string;
  host: string;
  port: number;
  user: string;
  privateKey: string;
  /** The pinned host key ("ssh-ed25519 AAAA…"), or null to accept and record the first one. */
  hostKey: string | null;
}

export class SshError extends Error {
  constructor(
    readonly reason: 'MACHINE_UNREACHABLE' | 'AUTH_FAILED' | 'HOST_KEY_MISMATCH',
    message: string,
    readonly presentedHostKey?: string,
  ) {
    super(message);
  }
}

export interface PoolOptions {
  logger: Logger;
  /** Called once with the host key seen on a machine without a pinned one. */
  onNewHostKey?: (machine: string, hostKey: string) => void;
  /** Connection attempt limit. Default 10 s. */
  connectTimeoutMs?: number;
  /** Keep-alive interval; a connection missing `keepaliveCountMax` answers is dead. Default 5 s × 3. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Connections unused this long are closed. Default 5 min. */
  idleMs?: number;
  /** Channels at once on one connection (sshd's MaxSessions is 10 by default). Default 8. */
  maxChannels?: number;
}

interface Entry {
  key: string;
  client: Client;
  ready: Promise<Client>;
  channels: number;
  waiting: (() => void)[];
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * One SSH connection per machine, shared by every task on it (a channel per
 * task), with keep-alives, backoff after failures and idle close. Host keys
 * are pinned: a key other than the pinned one never gets a connection.
 */
export class SshPool {
  private readonly entries = new Map<string, Entry>();
  private readonly backoff = new Map<string, { until: number; delayMs: number; error: SshError }>();
  private readonly o: Required<Omit<PoolOptions, 'onNewHostKey'>> & Pick<PoolOptions, 'onNewHostKey'>;

  constructor(options: PoolOptions) {
    this.o = {
      connectTimeoutMs: 10_000,
      keepaliveIntervalMs: 5_000,
      keepaliveCountMax: 3,
      idleMs: 5 * 60_000,
      maxChannels: 8,
      ...options,
    };
  }

  get size(): number {
    return this.entries.size;
  }

  private keyOf(t: SshTarget): string {
    return `${t.name}|${t.user}@${t.host}:${t.port}|${t.hostKey ?? ''}`;
  }

  /** Opens a command channel on the machine's shared connection. */
  async exec(target: SshTarget, command: string): Promise<{ channel: ClientChannel; release: () => void }> {
    const reused = this.entries.has(this.keyOf(target));
    try {
      return await this.execOn(target, command);
    } catch (err) {
      // A pooled connection can die unnoticed (the machine restarted): retry once on a fresh one.
      if (!reused || (err instanceof SshError && err.reason !== 'MACHINE_UNREACHABLE')) throw err;
      const stale = this.entries.get(this.keyOf(target));
      if (stale !== undefined) this.drop(stale);
      return this.execOn(target, command);
    }
  }

  private async execOn(
    target: SshTarget,
    command: string,
  ): Promise<{ channel: ClientChannel; release: () => void }> {
    const entry = await this.connection(target);
    while (entry.channels >= this.o.maxChannels) await new Promise<void>((r) => entry.waiting.push(r));
    entry.channels += 1;
    clearTimeout(entry.idleTimer);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.channels -= 1;
      entry.waiting.shift()?.();
      if (entry.channels === 0) this.armIdle(entry);
    };
    try {
      const client = await entry.ready;
      const channel = await new Promise<ClientChannel>((resolve, reject) =>
        client.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))),
      );
      return { channel, release };
    } catch (err) {
      release();
      throw err instanceof SshError
        ? err
        : new SshError('MACHINE_UNREACHABLE', `${target.name}: ${(err as Error).message}`);
    }
  }

  private armIdle(entry: Entry): void {
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => this.drop(entry), this.o.idleMs);
    entry.idleTimer.unref();
  }

  private drop(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    clearTimeout(entry.idleTimer);
    entry.client.end();
  }

  private async connection(t: SshTarget): Promise<Entry> {
    const key = this.keyOf(t);
    const failed = this.backoff.get(key);
    // After a failure, wait out the backoff before trying again rather than failing at once:
    // the machine may be back by then.
    if (failed !== undefined && failed.until > Date.now()) {
      await new Promise((r) => setTimeout(r, failed.until - Date.now()));
    }
    const existing = this.entries.get(key);
    if (existing !== undefined) return existing;
    const client = new ssh2.Client();
    const entry: Entry = {
      key,
      client,
      ready: null as never,
      channels: 0,
      waiting: [],
      idleTimer: undefined,
    };
    entry.ready = this.open(client, t).then(
      (c) => {
        this.backoff.delete(key);
        return c;
      },
      (err: SshError) => {
        this.drop(entry);
        const delayMs = Math.min(8_000, (failed?.delayMs ?? 500) * 2);
        this.backoff.set(key, { until: Date.now() + delayMs, delayMs, error: err });
        throw err;
      },
    );
    client.on('close', () => this.drop(entry));
    client.on('error', () => this.drop(entry));
    this.entries.set(key, entry);
    return entry.ready.then(() => entry);
  }

  private open(client: Client, t: SshTarget): Promise<Client> {
    return new Promise((resolve, reject) => {
      let presented: string | undefined;
      let settled = false;
      const fail = (err: SshError) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(err);
      };
      // Our own socket, so Nagle's algorithm can be off: it costs ~40 ms per exchange otherwise.
      const sock = tcpConnect({ host: t.host, port: t.port });
      sock.setNoDelay(true);
      sock.once('error', (err) => fail(new SshError('MACHINE_UNREACHABLE', `${t.name}: ${err.message}`)));
      const timer = setTimeout(
        () =>
          fail(
            new SshError(
              'MACHINE_UNREACHABLE',
              `${t.name}: no SSH connection within ${this.o.connectTimeoutMs} ms`,
            ),
          ),
        this.o.connectTimeoutMs,
      );
      client.once('ready', () => {
        clearTimeout(timer);
        settled = true;
        if (t.hostKey === null && presented !== undefined) this.o.onNewHostKey?.(t.name, presented);
        resolve(client);
      });
      client.once('error', (err: Error & { level?: string }) => {
        clearTimeout(timer);
        if (presented !== undefined && t.hostKey !== null && !sameKey(presented, t.hostKey)) {
          fail(
            new SshError(
              'HOST_KEY_MISMATCH',
              `${t.name}: host key changed (pinned ${short(t.hostKey)}, got ${short(presented)})`,
              presented,
            ),
          );
        } else if (err.level === 'client-authentication') {
          fail(new SshError('AUTH_FAILED', `${t.name}: the server refused the key for ${t.user}`));
        } else {
          fail(new SshError('MACHINE_UNREACHABLE', `${t.name}: ${err.message}`));
        }
      });
      client.connect({
        sock,
        username: t.user,
        privateKey: t.privateKey,
        readyTimeout: this.o.connectTimeoutMs,
        keepaliveInterval: this.o.keepaliveIntervalMs,
        keepaliveCountMax: this.o.keepaliveCountMax,
        hostVerifier: (key: Buffer) => {
          presented = `${keyType(key)} ${key.toString('base64')}`;
          return t.hostKey === null || sameKey(presented, t.hostKey);
        },
      });
    });
  }

  close(): void {
    for (const e of [...this.entries.values()]) this.drop(e);
  }
}

/** The key type inside an SSH wire-format public key blob. */
function keyType(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('ascii');
}

function sameKey(a: string, b: string): boolean {
  const [ta, ka] = a.trim().split(/\s+/);
  const [tb, kb] = b.trim().split(/\s+/);
  return ta === tb && ka === kb;
}

function short(key: string): string {
  const [type, data] = key.split(/\s+/);
  return `${type} …${(data ?? '').slice(-12)}`;
}
