import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuditEntry, Store } from '../store/store.js';
import { actorOf } from './auth.js';

const VERB_SEGMENTS = new Set([
  'cancel',
  'retry',
  'login',
  'setup',
  'reset-token',
  'claim',
  'report',
  'change-master',
]);
const METHOD_VERBS: Record<string, string> = {
  GET: 'read',
  POST: 'create',
  PUT: 'update',
  PATCH: 'update',
  DELETE: 'delete',
};

/** `POST /api/v1/tasks/:id/cancel` → `tasks.cancel`; `DELETE /api/v1/teams/:name/members/:email` → `teams.members.delete`. */
export function actionOf(method: string, routeUrl: string): string {
  const parts = routeUrl
    .replace(/^\/api\/v1\//, '')
    .split('/')
    .filter((p) => p !== '' && !p.startsWith(':') && p !== '*');
  const last = parts.at(-1) ?? '';
  if (VERB_SEGMENTS.has(last)) return parts.join('.');
  return [...parts, METHOD_VERBS[method] ?? method.toLowerCase()].join('.');
}

/**
 * Writes one audit record per mutating call, per refused call and per call a
 * handler marks (vault reads), after the answer is known. Records are
 * appended in small batches, each batch in one transaction.
 */
export function installAuditHook(
  app: FastifyInstance,
  store: Store,
  clock: () => number,
  log: Logger,
): () => Promise<void> {
  let queue: AuditEntry[] = [];
  let flushing: Promise<void> | null = null;
  const flush = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await store.audit.append(batch);
      } catch (err) {
        log.error({ err, lost: batch.length }, 'writing the audit log failed');
      }
    }
    flushing = null;
  };
  app.addHook('onResponse', async (request, reply) => {
    const entry = entryFor(request, reply.statusCode, clock());
    if (entry === null) return;
    queue.push(entry);
    flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(flush);
  });
  return async () => {
    await flushing;
    await flush();
  };
}

function entryFor(request: FastifyRequest, status: number, now: number): AuditEntry | null {
  const note = request.audit ?? {};
  if (note.skip === true || request.routeOptions.url === undefined) return null;
  const refused = status === 401 || status === 403 || note.denied === true;
  const reading = request.method === 'GET' || request.method === 'HEAD';
  if (reading && note.force !== true && !refused) return null;
  return {
    at: now,
    actor: note.actor ?? actorOf(request) ?? 'anonymous',
    action: note.action ?? actionOf(request.method, request.routeOptions.url),
    target: note.target ?? null,
    team: note.team ?? null,
    source: request.ip,
    outcome: note.outcome ?? (refused ? 'denied' : status < 400 ? 'ok' : 'failed'),
    details: { status, ...note.details },
  };
}
