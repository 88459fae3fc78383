import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Assignment } from '../../core/types.js';
import { LocalTransport } from './local.js';
import type { SpawnerEvent, SpawnerRequest } from './spawner-main.js';
import type { ExitInfo, OutputSink, RunHandle, Transport } from './transport.js';

let spawnerPath: string | null | undefined;

/** The compiled spawner next to this module, or null when running from sources. */
function spawnerMain(): string | null {
  if (spawnerPath === undefined) {
    const path = fileURLToPath(new URL('./spawner-main.js', import.meta.url));
    spawnerPath = existsSync(path) ? path : null;
  }
  return spawnerPath;
}

interface Pending {
  onOutput: OutputSink;
  started: (at: number | null) => void;
  done: (info: ExitInfo) => void;
}

/**
 * Local commands through the spawner process (spawner-main.ts), so that
 * starting one does not fork the whole control plane. Same behaviour as
 * LocalTransport: process group, TERM then KILL, timeouts.
 */
export class SpawnerTransport implements Transport {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private inProcess: LocalTransport | null = null;

  constructor(
    private readonly log: Logger,
    private readonly stateDir?: string,
  ) {}

  private process(): ChildProcess {
    if (this.child !== null) return this.child;
    const main = spawnerMain();
    if (main === null) throw new Error('the spawner is not built (npm run build)');
    const child = fork(main, [this.stateDir ?? ''], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    child.on('message', (e: SpawnerEvent) => this.onEvent(e));
    child.on('exit', (code, signal) => {
      this.child = null;
      if (!this.closed) this.log.error({ code, signal }, 'the spawner process ended; its commands are lost');
      for (const [id, p] of this.pending) {
        p.started(null);
        p.done({
          exitCode: null,
          signal: null,
          reason: 'SPAWN_FAILED',
          message: 'the bridge spawner process ended',
        });
        this.pending.delete(id);
      }
    });
    this.child = child;
    return child;
  }

  private onEvent(e: SpawnerEvent): void {
    const p = this.pending.get(e.id);
    if (p === undefined) return;
    if (e.t === 'started') p.started(e.at);
    else if (e.t === 'out') p.onOutput(e.stream, e.data);
    else {
      this.pending.delete(e.id);
      p.done({ exitCode: e.exitCode, signal: e.signal, reason: e.reason, message: e.message });
    }
  }

  run(task: Assignment, onOutput: OutputSink): RunHandle {
    // Running from TypeScript sources (tests) there is no built spawner: start commands here.
    if (spawnerMain() === null) {
      this.inProcess ??= new LocalTransport(this.stateDir === undefined ? {} : { stateDir: this.stateDir });
      return this.inProcess.run(task, onOutput);
    }
    const id = this.nextId++;
    let started: (at: number | null) => void = () => {};
    let done: (info: ExitInfo) => void = () => {};
    const startedAt = new Promise<number | null>((r) => {
      started = r;
    });
    const finished = new Promise<ExitInfo>((r) => {
      done = r;
    });
    this.pending.set(id, { onOutput, started, done });
    const request: SpawnerRequest = {
      t: 'run',
      id,
      task: {
        taskId: task.taskId,
        attempt: task.attempt,
        command: task.command,
        timeoutSeconds: task.timeoutSeconds,
        env: task.env,
      },
    };
    this.process().send(request);
    return {
      startedAt,
      done: finished,
      kill: () => {
        if (this.pending.has(id)) this.child?.send({ t: 'kill', id } satisfies SpawnerRequest);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.child?.disconnect();
  }
}
