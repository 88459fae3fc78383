import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { preciseNowMs } from '../core/time.js';
import type { Assignment, Transport as TransportKind } from '../core/types.js';
import { Keyring } from '../vault/keyring.js';
import { Redactor } from '../vault/redactor.js';
import type { AttemptRef, BridgeApi } from './api.js';
import { HealthProbe } from './health-probe.js';
import { Reporter } from './reporter.js';
import type { SshPool } from './transports/ssh-pool.js';
import type { RunHandle, Transport } from './transports/transport.js';

export interface BridgeOptions {
  api: BridgeApi;
  transports: Partial<Record<TransportKind, Transport>>;
  logger: Logger;
  /** Most attempts this bridge runs at once. Default 256. */
  maxRunning?: number;
  /** How long one claim request waits for work. Default 20 s. */
  claimWaitMs?: number;
  /** Output sent per attempt at most; the control plane caps what it stores. Default 10 MiB. */
  outputCapBytes?: number;
  /** Opens the team vaults for tasks with `--env NAME=vault:KEY` and SSH keys; without it such tasks fail. */
  masterPassword?: string;
  /** The SSH connection pool, when the bridge serves SSH machines (also used for health probes). */
  pool?: SshPool;
  /** How often machines' health is read. Default 15 s; 0 turns it off. */
  healthIntervalMs?: number;
}

const CLAIM_RETRY_MIN_MS = 250;
const CLAIM_RETRY_MAX_MS = 10_000;

/**
 * Claims tasks for its region and runs them: one long-poll loop that keeps up
 * to `maxRunning` attempts going, heartbeats their leases, streams their
 * output and reports how they ended.
 */
export class Bridge {
  private readonly running = new Map<
    string,
    { ref: AttemptRef; handle: RunHandle; task: Assignment; stopping: boolean; interrupted: boolean }
  >();
  private readonly reporter: Reporter;
  private readonly maxRunning: number;
  private readonly claimWaitMs: number;
  private stopped = false;
  private poll: AbortController | null = null;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | null = null;
  private leaseMs = 30_000;
  private pollMax = 0;
  private readonly keyring: Keyring | null;
  private readonly health: HealthProbe | null;

  constructor(private readonly o: BridgeOptions) {
    this.maxRunning = o.maxRunning ?? 256;
    this.claimWaitMs = o.claimWaitMs ?? 20_000;
    this.keyring = o.masterPassword === undefined ? null : new Keyring(o.masterPassword);
    const every = o.healthIntervalMs ?? 15_000;
    this.health = every > 0 ? new HealthProbe(o.api, o.pool ?? null, this.keyring, o.logger, every) : null;
    this.reporter = new Reporter(
      o.api,
      o.logger,
      o.outputCapBytes ?? 10 * 1024 * 1024,
      () => [...this.running.values()].map((r) => r.ref),
      (refs) => this.cancel(refs),
    );
  }

  get runningCount(): number {
    return this.running.size;
  }

  start(): void {
    this.loop ??= this.claimLoop();
    this.health?.start();
    this.scheduleHeartbeat();
  }

  private scheduleHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(
      () => {
        if (this.running.size > 0) this.reporter.heartbeat();
      },
      Math.max(200, Math.floor(this.leaseMs / 3)),
    );
    this.heartbeatTimer.unref();
  }

  private async claimLoop(): Promise<void> {
    let retryMs = CLAIM_RETRY_MIN_MS;
    // Kept until an answer arrives: a retry after a lost answer gets back what that answer held.
    let claimId = randomUUID();
    while (!this.stopped) {
      const free = Math.max(0, this.maxRunning - this.running.size);
      this.poll = new AbortController();
      this.pollMax = free;
      try {
        // With no free slot the poll still waits, for cancellations; a freed slot aborts it.
        const stopping = [...this.running.values()].filter((r) => r.stopping).map((r) => r.ref);
        const res = await this.o.api.claim(free, this.claimWaitMs, stopping, claimId, this.poll.signal);
        claimId = randomUUID();
        retryMs = CLAIM_RETRY_MIN_MS;
        if (res.leaseMs !== this.leaseMs) {
          this.leaseMs = res.leaseMs;
          this.scheduleHeartbeat();
        }
        if (res.cancel.length > 0) this.cancel(res.cancel);
        for (const task of res.tasks) this.startTask(task);
      } catch (err) {
        if (this.stopped) break;
        if (this.poll.signal.aborted) continue;
        this.o.logger.warn({ err: (err as Error).message, retryInMs: retryMs }, 'claim failed; will retry');
        await new Promise((r) => setTimeout(r, retryMs));
        retryMs = Math.min(CLAIM_RETRY_MAX_MS, retryMs * 2);
      } finally {
        this.poll = null;
      }
      // The in-process link can answer without any I/O; let the event loop breathe.
      await new Promise((r) => setImmediate(r));
    }
  }

  private startTask(task: Assignment): void {
    const ref = { taskId: task.taskId, attempt: task.attempt };
    const log = this.o.logger.child({
      task: task.taskId,
      attempt: task.attempt,
      machine: task.machine.name,
      team: task.team,
    });
    const transport = this.o.transports[task.machine.transport];
    if (transport === undefined) {
      log.error({ transport: task.machine.transport }, 'no transport for this machine on this bridge');
      this.reporter.result({
        ...ref,
        at: Date.now(),
        exitCode: null,
        signal: null,
        reason: 'MACHINE_UNREACHABLE',
      });
      return;
    }
    let secrets: Record<string, string>;
    let privateKey: string | null = null;
    try {
      secrets = this.openSecrets(task);
      privateKey = this.openSshKey(task);
    } catch (err) {
      const message = `rediacc: cannot open the vault values of this task: ${(err as Error).message}\n`;
      log.error({ err: (err as Error).message }, 'cannot open vault values');
      this.reporter.output(ref, 'system', message, Date.now());
      this.reporter.result({ ...ref, at: Date.now(), exitCode: null, signal: null, reason: 'SPAWN_FAILED' });
      return;
    }
    // Secret values never leave the bridge: they are replaced in the output before it is sent.
    const values = Object.values(secrets);
    const redactors = {
      stdout: new Redactor(values),
      stderr: new Redactor(values),
      system: new Redactor(values),
    };
    let handle: RunHandle;
    try {
      handle = transport.run(
        { ...task, env: { ...task.env, ...secrets } },
        (stream, data) => {
          const safe = redactors[stream].write(data);
          if (safe.length > 0) this.reporter.output(ref, stream, safe, Date.now());
        },
        { privateKey },
      );
    } catch (err) {
      // A command the system refuses to start (a NUL byte, say) fails this attempt only.
      log.error({ err: (err as Error).message }, 'cannot start the command');
      this.reporter.output(
        ref,
        'system',
        `rediacc: cannot start the command: ${(err as Error).message}\n`,
        Date.now(),
      );
      this.reporter.result({ ...ref, at: Date.now(), exitCode: null, signal: null, reason: 'SPAWN_FAILED' });
      return;
    }
    const entry = { ref, handle, task, stopping: false, interrupted: false };
    this.running.set(key(ref), entry);
    handle.startedAt.then((at) => {
      if (at !== null) this.reporter.started(ref, at);
    });
    handle.done
      .then((exit) => {
        for (const stream of ['stdout', 'stderr'] as const) {
          const rest = redactors[stream].end();
          if (rest.length > 0) this.reporter.output(ref, stream, rest, Date.now());
        }
        if (exit.message !== undefined) {
          this.reporter.output(
            ref,
            'system',
            `${redactors.system.write(exit.message)}${redactors.system.end()}\n`,
            Date.now(),
          );
        }
        // Stopped because this bridge is shutting down, not because of the command: the attempt is lost
        // (and retried by its policy), not failed.
        const interrupted = entry.interrupted && !entry.stopping;
        if (interrupted) {
          this.reporter.output(
            ref,
            'system',
            'rediacc: the bridge shut down; the command was stopped\n',
            Date.now(),
          );
        }
        log.info(
          { exitCode: exit.exitCode, signal: exit.signal, reason: exit.reason, interrupted },
          'attempt ended',
        );
        this.reporter.result({
          ...ref,
          at: preciseNowMs(),
          exitCode: exit.exitCode,
          signal: exit.signal,
          reason: interrupted ? 'LOST' : exit.reason,
        });
      })
      .catch((err: unknown) => {
        log.error({ err }, 'attempt failed in the bridge');
        this.reporter.result({
          ...ref,
          at: Date.now(),
          exitCode: null,
          signal: null,
          reason: 'SPAWN_FAILED',
        });
      })
      .finally(() => {
        this.running.delete(key(ref));
        if (this.pollMax === 0) this.poll?.abort();
      });
  }

  /** Decrypts the task's vault values: environment name → value. */
  private openSecrets(task: Assignment): Record<string, string> {
    if (task.secrets.length === 0) return {};
    if (this.keyring === null)
      throw new Error('this bridge has no master password (REDIACC_MASTER_PASSWORD)');
    if (task.vault === null) throw new Error(`team '${task.team}' has no vault key`);
    const out: Record<string, string> = {};
    for (const s of task.secrets) {
      if (s.ciphertext === '') throw new Error(`vault key '${s.key}' no longer exists`);
      out[s.env] = this.keyring.decrypt(task.vault, task.team, s.key, s.version, s.ciphertext);
    }
    return out;
  }

  /** The machine's SSH private key from the team vault (SSH machines only). */
  private openSshKey(task: Assignment): string | null {
    const k = task.machine.sshKey;
    if (task.machine.transport !== 'ssh' || k === null) return null;
    if (this.keyring === null)
      throw new Error('this bridge has no master password (REDIACC_MASTER_PASSWORD)');
    if (task.vault === null) throw new Error(`team '${task.team}' has no vault key`);
    return this.keyring.decrypt(task.vault, task.team, k.key, k.version, k.ciphertext);
  }

  private cancel(refs: AttemptRef[]): void {
    for (const ref of refs) {
      const r = this.running.get(key(ref));
      if (r === undefined || r.stopping) continue;
      r.stopping = true;
      this.o.logger.info(
        { task: ref.taskId, attempt: ref.attempt },
        'stopping attempt (cancelled or lease lost)',
      );
      r.handle.kill();
    }
  }

  /**
   * Stops claiming, lets running commands finish for up to `drainMs` (leases
   * still renewed), then stops the rest; those attempts end `lost`, and their
   * retry policy decides. Waits for the last reports.
   */
  async stop(options: { drainMs?: number } = {}): Promise<void> {
    this.stopped = true;
    this.poll?.abort();
    await this.health?.stop();
    const settled = Promise.allSettled([...this.running.values()].map((r) => r.handle.done));
    const drainMs = options.drainMs ?? 0;
    if (drainMs > 0 && this.running.size > 0) {
      this.o.logger.info({ running: this.running.size, drainMs }, 'draining: waiting for running commands');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settled, new Promise((r) => (timer = setTimeout(r, drainMs)))]);
      clearTimeout(timer);
    }
    for (const r of this.running.values()) {
      r.interrupted = true;
      r.handle.kill();
    }
    await settled;
    clearInterval(this.heartbeatTimer);
    await this.loop;
    await this.reporter.drain();
    await Promise.all(Object.values(this.o.transports).map((t) => t?.close()));
  }
}

function key(ref: AttemptRef): string {
  return `${ref.taskId}#${ref.attempt}`;
}
