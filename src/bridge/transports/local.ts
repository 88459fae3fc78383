import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { preciseNowMs } from '../../core/time.js';
import type { Assignment } from '../../core/types.js';
import { ProcessGroupRecord } from './reaper.js';
import type { ExitInfo, OutputSink, RunHandle, Transport } from './transport.js';

/** Environment passed through from the bridge; nothing else of it (tokens, passwords) reaches tasks. */
const PASSED_ENV = ['PATH', 'LANG', 'LC_ALL', 'TZ', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR'];

export interface LocalTransportOptions {
  /** Time between TERM and KILL when stopping a command. Default 3 s. */
  killGraceMs?: number;
  /** How long to wait for the output pipes after the command exits (background children may hold them). Default 2 s. */
  pipeDrainMs?: number;
  /** Folder recording running process groups, so a restarted bridge stops what a crashed one left. */
  stateDir?: string;
}

/** Runs commands on the bridge's own host: `/bin/sh -c` in a process group of its own. */
export class LocalTransport implements Transport {
  private readonly killGraceMs: number;
  private readonly pipeDrainMs: number;
  private readonly record: ProcessGroupRecord | null;
  /** Process groups a previous run of this bridge left behind and that were killed at start. */
  readonly reaped: number;

  constructor(options: LocalTransportOptions = {}) {
    this.killGraceMs = options.killGraceMs ?? 3000;
    this.pipeDrainMs = options.pipeDrainMs ?? 2000;
    this.record = options.stateDir === undefined ? null : new ProcessGroupRecord(options.stateDir);
    this.reaped = this.record?.reapLeftovers() ?? 0;
  }

  run(task: Assignment, onOutput: OutputSink): RunHandle {
    const env: Record<string, string> = {};
    for (const k of PASSED_ENV) {
      const v = process.env[k];
      if (v !== undefined) env[k] = v;
    }
    // Every process the command starts inherits this marker, also those that leave its process group.
    const marker = `RDC_ATTEMPT=${randomUUID()}`;
    Object.assign(env, task.env, {
      REDIACC_TASK_ID: task.taskId,
      REDIACC_ATTEMPT: String(task.attempt),
      RDC_ATTEMPT: marker.slice('RDC_ATTEMPT='.length),
    });
    const child = spawn('/bin/sh', ['-c', task.command], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
      cwd: env.HOME ?? homedir(),
    });
    let killTimer: NodeJS.Timeout | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const signalGroup = (signal: NodeJS.Signals) => {
      killMarked(marker, signal);
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    const kill = () => {
      if (killTimer !== undefined) return;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), this.killGraceMs);
      killTimer.unref();
    };
    const startedAt = new Promise<number | null>((resolve) => {
      child.once('spawn', () => {
        const at = preciseNowMs();
        if (child.pid !== undefined) this.record?.add(child.pid);
        resolve(at);
      });
      child.once('error', () => resolve(null));
    });
    for (const [stream, name] of [
      [child.stdout, 'stdout'],
      [child.stderr, 'stderr'],
    ] as const) {
      const decoder = new StringDecoder('utf8');
      stream.on('data', (buf: Buffer) => {
        const text = decoder.write(buf);
        if (text.length > 0) onOutput(name, text);
      });
      stream.on('end', () => {
        const rest = decoder.end();
        if (rest.length > 0) onOutput(name, rest);
      });
    }
    if (task.timeoutSeconds !== null) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        kill();
      }, task.timeoutSeconds * 1000);
      timeoutTimer.unref();
    }
    const done = new Promise<ExitInfo>((resolve) => {
      child.once('error', (err) => {
        clearTimeout(timeoutTimer);
        resolve({ exitCode: null, signal: null, reason: 'SPAWN_FAILED', message: err.message });
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timeoutTimer);
        const finish = () => {
          clearTimeout(drainTimer);
          // Stopped (cancel or timeout): nothing of the tree may outlive its leader.
          if (killTimer !== undefined) signalGroup('SIGKILL');
          if (child.pid !== undefined) this.record?.remove(child.pid);
          resolve({ exitCode: code, signal, reason: timedOut ? 'TIMEOUT' : null });
        };
        // Background children may keep the pipes open; don't wait for them forever.
        const drainTimer = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish();
        }, this.pipeDrainMs);
        drainTimer.unref();
        let open = 2;
        const closed = () => {
          open -= 1;
          if (open === 0) finish();
        };
        if (child.stdout?.readableEnded) closed();
        else child.stdout?.once('close', closed);
        if (child.stderr?.readableEnded) closed();
        else child.stderr?.once('close', closed);
      });
    });
    return { startedAt, done, kill };
  }

  async close(): Promise<void> {}
}

/** Signals every process whose environment carries `marker` (those that left the group with setsid). */
function killMarked(marker: string, signal: NodeJS.Signals): void {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(marker))
        process.kill(Number(name), signal);
    } catch {
      // Gone, or not ours to read.
    }
  }
}
