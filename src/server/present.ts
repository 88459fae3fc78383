import { createHash } from 'node:crypto';
import { iso } from '../core/time.js';
import {
  type Alert,
  type Attempt,
  type Bridge,
  type Machine,
  PRIORITY_LABELS,
  type Task,
} from '../core/types.js';
import type { OutputChunk } from '../store/store.js';

/** Turns stored records into the API's JSON (camelCase, ISO times, public field names). */
export function presentTask(t: Task, attempts?: Attempt[]) {
  return {
    seq: t.seq,
    taskId: t.taskId,
    batchId: t.batchId,
    status: t.status,
    priority: t.priority,
    priorityLabel: PRIORITY_LABELS[t.priority],
    team: t.team,
    machine: t.machine,
    command: t.command,
    env: t.envNames,
    secretEnv: t.secretEnv,
    outputArchive: t.outputArchive,
    retryCount: t.retryCount,
    retryDelay: t.retryDelaySeconds,
    backoff: t.backoff,
    failureAction: t.failureAction,
    timeout: t.timeoutSeconds,
    attempts: t.attempts,
    exitCode: t.exitCode,
    signal: t.signal,
    reason: t.reason,
    createdAt: iso(t.createdAt),
    startedAt: iso(t.startedAt),
    finishedAt: iso(t.finishedAt),
    retryAt: iso(t.retryAt),
    outputBytes: t.outputBytes,
    outputCapped: t.outputCapped,
    createdBy: t.createdBy,
    ...(attempts === undefined ? {} : { attemptHistory: attempts.map(presentAttempt) }),
  };
}

export function presentAttempt(a: Attempt) {
  return {
    attempt: a.attempt,
    status: a.status,
    bridge: a.bridge,
    assignedAt: iso(a.assignedAt),
    startedAt: iso(a.startedAt),
    finishedAt: iso(a.finishedAt),
    exitCode: a.exitCode,
    signal: a.signal,
    reason: a.reason,
  };
}

export function presentMachine(m: Machine) {
  return {
    name: m.name,
    team: m.team,
    region: m.region,
    transport: m.transport,
    concurrency: m.concurrency,
    labels: m.labels,
    host: m.host,
    port: m.port,
    user: m.user,
    running: m.running,
    pending: m.pending,
    createdAt: iso(m.createdAt),
    updatedAt: iso(m.updatedAt),
    status: m.status,
    statusSince: iso(m.statusSince),
    lastError: m.lastError,
    hostKey: m.hostKey,
    hostKeyFingerprint: m.hostKey === null ? null : fingerprint(m.hostKey),
    keyCreatedAt: iso(m.keyCreatedAt),
    health: m.health === null ? null : { ...m.health, at: iso(m.health.at) },
  };
}

export function presentBridge(b: Bridge, now: number, onlineWithinMs: number) {
  return {
    name: b.name,
    region: b.region,
    online: b.lastSeenAt !== null && now - b.lastSeenAt <= onlineWithinMs,
    lastSeenAt: iso(b.lastSeenAt),
    running: b.running,
    createdAt: iso(b.createdAt),
  };
}

export function presentAlert(a: Alert) {
  return { ...a, createdAt: iso(a.createdAt) };
}

export function presentChunk(c: OutputChunk) {
  return { id: c.id, attempt: c.attempt, stream: c.stream, at: iso(c.at) as string, data: c.data };
}

/** OpenSSH's SHA256 fingerprint of a public key line ("SHA256:…" as ssh-keygen -l prints). */
export function fingerprint(publicKey: string): string | null {
  const data = publicKey.trim().split(/\s+/)[1];
  if (data === undefined) return null;
  const digest = createHash('sha256').update(Buffer.from(data, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}
