import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import type { Keyring } from '../vault/keyring.js';
import type { BridgeApi, BridgeMachine, HealthReport } from './api.js';
import { HEALTH_COMMAND, parseHealth } from './transports/ssh-health.js';
import type { SshPool } from './transports/ssh-pool.js';

const PROBE_TIMEOUT_MS = 10_000;

/**
 * Every interval, reads CPU, load, memory and disk of each machine of the
 * bridge's region (SSH machines over the pooled connection, local ones
 * directly) and reports them; a machine that does not answer is reported
 * with its error, and the control plane turns it offline after a while.
 */
export class HealthProbe {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;

  constructor(
    private readonly api: BridgeApi,
    private readonly pool: SshPool | null,
    private readonly keyring: Keyring | null,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    const tick = () => {
      this.running ??= this.probeAll()
        .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'health probe round failed'))
        .finally(() => {
          this.running = null;
        });
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async probeAll(): Promise<void> {
    const machines = await this.api.machines();
    const reports = await Promise.all(machines.map((m) => this.probe(m)));
    if (reports.length > 0) await this.api.health(reports);
  }

  private async probe(m: BridgeMachine): Promise<HealthReport> {
    const base = { machine: m.name, at: Date.now() };
    try {
      const output = await withTimeout(
        m.transport === 'local' ? runLocal() : this.runSsh(m),
        PROBE_TIMEOUT_MS,
      );
      return { ...base, ok: true, error: null, ...parseHealth(output) };
    } catch (err) {
      return {
        ...base,
        ok: false,
        error: (err as Error).message,
        cpuPercent: null,
        load1: null,
        memUsedBytes: null,
        memTotalBytes: null,
        diskUsedBytes: null,
        diskTotalBytes: null,
      };
    }
  }

  private async runSsh(m: BridgeMachine): Promise<string> {
    if (this.pool === null || this.keyring === null)
      throw new Error('this bridge has no SSH set-up (master password)');
    if (m.host === null || m.sshKey === null || m.vault === null)
      throw new Error(`${m.name}: no host or SSH key configured`);
    const privateKey = this.keyring.decrypt(
      m.vault,
      m.team,
      m.sshKey.key,
      m.sshKey.version,
      m.sshKey.ciphertext,
    );
    const { channel, release } = await this.pool.exec(
      {
        name: m.name,
        host: m.host,
        port: m.port ?? 22,
        user: m.user ?? 'root',
        privateKey,
        hostKey: m.hostKey,
      },
      HEALTH_COMMAND,
    );
    return new Promise((resolve, reject) => {
      let out = '';
      channel.on('data', (d: Buffer) => {
        out += d.toString('utf8');
      });
      channel.stderr.resume();
      channel.on('close', () => {
        release();
        if (out === '') reject(new Error(`${m.name}: the health probe printed nothing`));
        else resolve(out);
      });
    });
  }
}

function runLocal(): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('/bin/sh', ['-c', HEALTH_COMMAND], { timeout: PROBE_TIMEOUT_MS }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    ),
  );
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
