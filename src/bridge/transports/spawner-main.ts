/**
 * The spawner: a small process that starts the local commands of a bridge.
 * Starting a process (fork) costs time in proportion to the parent's memory,
 * so the control plane delegates it to this lean process over IPC.
 */
import type { Assignment } from '../../core/types.js';
import { LocalTransport } from './local.js';
import type { RunHandle } from './transport.js';

export type SpawnerRequest =
  | {
      t: 'run';
      id: number;
      task: Pick<Assignment, 'taskId' | 'attempt' | 'command' | 'timeoutSeconds' | 'env'>;
    }
  | { t: 'kill'; id: number };

export type SpawnerEvent =
  | { t: 'started'; id: number; at: number | null }
  | { t: 'out'; id: number; stream: 'stdout' | 'stderr'; data: string }
  | {
      t: 'done';
      id: number;
      exitCode: number | null;
      signal: string | null;
      reason: 'TIMEOUT' | 'SPAWN_FAILED' | null;
      message?: string;
    };

const send = (e: SpawnerEvent) => process.send?.(e);
const stateDir = process.argv[2];
const transport = new LocalTransport(stateDir === undefined || stateDir === '' ? {} : { stateDir });
const running = new Map<number, RunHandle>();

process.on('message', (m: SpawnerRequest) => {
  if (m.t === 'kill') {
    running.get(m.id)?.kill();
    return;
  }
  let handle: RunHandle;
  try {
    handle = transport.run(m.task as Assignment, (stream, data) => {
      if (stream !== 'system') send({ t: 'out', id: m.id, stream, data });
    });
  } catch (err) {
    send({ t: 'started', id: m.id, at: null });
    send({
      t: 'done',
      id: m.id,
      exitCode: null,
      signal: null,
      reason: 'SPAWN_FAILED',
      message: (err as Error).message,
    });
    return;
  }
  running.set(m.id, handle);
  void handle.startedAt.then((at) => send({ t: 'started', id: m.id, at }));
  void handle.done.then((d) => {
    running.delete(m.id);
    send({
      t: 'done',
      id: m.id,
      exitCode: d.exitCode,
      signal: d.signal,
      reason: d.reason === 'TIMEOUT' || d.reason === 'SPAWN_FAILED' ? d.reason : null,
      ...(d.message === undefined ? {} : { message: d.message }),
    });
  });
});

// The bridge is gone: stop what runs (as a bridge stop would) and leave.
process.on('disconnect', () => {
  for (const h of running.values()) h.kill();
  setTimeout(() => process.exit(0), 4000).unref();
});
