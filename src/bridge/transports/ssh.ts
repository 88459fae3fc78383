import { randomUUID } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { preciseNowMs } from '../../core/time.js';
import type { Assignment } from '../../core/types.js';
import { envPreamble, remoteScript } from './remote-script.js';
import { SshError, type SshPool, type SshTarget } from './ssh-pool.js';
import type { ExitInfo, OutputSink, RunHandle, RunOptions, Transport } from './transport.js';

export interface SshTransportOptions {
  /** Seconds between TERM and KILL on the machine. Default 3. */
  killGraceSeconds?: number;
}

/** Runs commands on SSH machines over the bridge's pooled connections. */
export class SshTransport implements Transport {
  private readonly killGraceSeconds: number;

  constructor(
    private readonly pool: SshPool,
    options: SshTransportOptions = {},
  ) {
    this.killGraceSeconds = options.killGraceSeconds ?? 3;
  }

  static target(task: Assignment, privateKey: string | null): SshTarget {
    const m = task.machine;
    if (m.host === null || privateKey === null) {
      throw new SshError('AUTH_FAILED', `${m.name}: no host or SSH key configured`);
    }
    return {
      name: m.name,
      host: m.host,
      port: m.port ?? 22,
      user: m.user ?? 'root',
      privateKey,
      hostKey: m.hostKey,
    };
  }

  run(task: Assignment, onOutput: OutputSink, options: RunOptions = {}): RunHandle {
    let resolveStart: (at: number | null) => void = () => {};
    const startedAt = new Promise<number | null>((r) => {
      resolveStart = r;
    });
    let stop: (() => void) | null = null;
    let stopRequested = false;
    let timedOut = false;
    const kill = () => {
      stopRequested = true;
      stop?.();
    };
    const done = (async (): Promise<ExitInfo> => {
      const env = { ...task.env, REDIACC_TASK_ID: task.taskId, REDIACC_ATTEMPT: String(task.attempt) };
      let opened: Awaited<ReturnType<SshPool['exec']>>;
      try {
        const target = SshTransport.target(task, options.privateKey ?? null);
        opened = await this.pool.exec(
          target,
          remoteScript(randomUUID(), task.command, this.killGraceSeconds),
        );
      } catch (err) {
        resolveStart(null);
        const e = err instanceof SshError ? err : new SshError('MACHINE_UNREACHABLE', (err as Error).message);
        return { exitCode: null, signal: null, reason: e.reason, message: e.message };
      }
      const { channel, release } = opened;
      resolveStart(preciseNowMs());
      channel.write(envPreamble(env));
      // Ending our side of the channel is the stop signal: the remote script then
      // stops every process of the attempt. A channel that does not close after
      // the grace period is closed from here.
      stop = () => {
        channel.end();
        setTimeout(() => channel.close(), (this.killGraceSeconds + 3) * 1000).unref();
      };
      if (stopRequested) stop();
      const timer =
        task.timeoutSeconds === null
          ? undefined
          : setTimeout(() => {
              timedOut = true;
              kill();
            }, task.timeoutSeconds * 1000);
      timer?.unref();
      for (const [stream, name] of [
        [channel, 'stdout'],
        [channel.stderr, 'stderr'],
      ] as const) {
        const decoder = new StringDecoder('utf8');
        stream.on('data', (buf: Buffer) => {
          const text = decoder.write(buf);
          if (text.length > 0) onOutput(name, text);
        });
      }
      return new Promise<ExitInfo>((resolve) => {
        let exit: { code: number | null; signal: string | null } | null = null;
        channel.on('exit', (code: number | null, signal?: string) => {
          exit = { code, signal: signal ?? null };
          // The command is done: let the remote script finish (it waits for end of input).
          channel.end();
        });
        channel.on('close', () => {
          clearTimeout(timer);
          release();
          if (exit === null) {
            resolve({
              exitCode: null,
              signal: null,
              reason: timedOut ? 'TIMEOUT' : 'MACHINE_UNREACHABLE',
              message: stopRequested
                ? undefined
                : `connection to ${task.machine.name} lost while the command ran`,
            });
            return;
          }
          const killed = stopRequested && (exit.code === 143 || exit.code === 137);
          resolve({
            exitCode: killed ? null : exit.code,
            signal: killed ? (exit.code === 137 ? 'SIGKILL' : 'SIGTERM') : exit.signal,
            reason: timedOut ? 'TIMEOUT' : null,
          });
        });
      });
    })();
    return { startedAt, done, kill };
  }

  async close(): Promise<void> {
    this.pool.close();
  }
}
