import { Type } from 'typebox';
import { AppError, notFound } from '../../core/errors.js';
import type { Principal } from '../permissions.js';
import { presentBridge } from '../present.js';
import { ClaimBody, ReportBody } from '../schemas/bridge.js';
import { ErrorBody } from '../schemas/common.js';
import { BridgeOut, CreateBridgeBody } from '../schemas/fleet.js';
import { hashToken, newToken } from '../tokens.js';
import { type App, type RouteDeps, typed } from './deps.js';

const Ref = Type.Object({ taskId: Type.String(), attempt: Type.Integer() });

export function bridgeRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, service, settings, clock } = deps;
  const onlineWithinMs = Math.max(settings.leaseMs, settings.claimWaitMaxMs + 10_000);

  r.post(
    '/bridges',
    {
      config: { permission: 'bridge:write' },
      schema: {
        summary: 'Register a bridge for a region; the answer holds its token, shown once',
        tags: ['bridges'],
        body: CreateBridgeBody,
        response: {
          201: Type.Object({ name: Type.String(), region: Type.String(), token: Type.String() }),
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { name } = request.body;
      const region = request.body.region ?? 'default';
      request.audit.target = name;
      if ((await store.getBridge(name)) !== null) {
        throw new AppError('BRIDGE_EXISTS', `bridge '${name}' already exists`, 409);
      }
      if (!(await store.listRegions()).some((x) => x.name === region)) {
        throw notFound('REGION_NOT_FOUND', `region '${region}' does not exist; create it first`);
      }
      const now = clock();
      await store.upsertBridge(name, region, now);
      const token = newToken('rdb');
      await store.createToken({
        hash: hashToken(token),
        kind: 'bridge',
        name: `bridge:${name}`,
        userId: null,
        bridgeName: name,
        now,
        expiresAt: null,
      });
      request.log.info({ bridge: name, region }, 'bridge registered');
      reply.status(201);
      return { name, region, token };
    },
  );

  r.get(
    '/bridges',
    {
      config: { permission: 'bridge:read' },
      schema: { tags: ['bridges'], response: { 200: Type.Array(BridgeOut) } },
    },
    async () => {
      const now = clock();
      return (await store.listBridges()).map((b) => presentBridge(b, now, onlineWithinMs));
    },
  );

  r.post(
    '/bridge/claim',
    {
      config: { permission: 'bridge:protocol' },
      schema: {
        summary: 'Bridge protocol: claim up to max tasks of the bridge region, waiting up to waitMs for work',
        tags: ['bridge protocol'],
        body: ClaimBody,
        response: {
          200: Type.Object({
            tasks: Type.Array(Type.Any()),
            cancel: Type.Array(Ref),
            leaseMs: Type.Integer(),
          }),
        },
      },
    },
    async (request, reply) => {
      const p = request.principal as Extract<Principal, { kind: 'bridge' }>;
      const abort = new AbortController();
      // The response's close, not the request's: a request closes as soon as its body is read,
      // which would end every long poll at once.
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      const b = request.body;
      const result = await service.claim(
        p.bridge,
        p.region,
        b.max,
        b.waitMs ?? 0,
        b.stopping ?? [],
        b.claimId ?? null,
        abort.signal,
      );
      if (result.tasks.length === 0) request.audit.skip = true;
      // Counts, not lists: each task's attempts keep the detail, and a claim may carry thousands.
      else request.audit.details = { claimed: result.tasks.length };
      return { ...result, leaseMs: settings.leaseMs };
    },
  );

  r.post(
    '/bridge/report',
    {
      config: { permission: 'bridge:protocol' },
      schema: {
        summary: 'Bridge protocol: starts, output chunks, results and heartbeats, in one round trip',
        tags: ['bridge protocol'],
        body: ReportBody,
        response: { 200: Type.Object({ cancel: Type.Array(Ref) }) },
      },
    },
    async (request) => {
      const p = request.principal as Extract<Principal, { kind: 'bridge' }>;
      const b = request.body;
      const outcome = await service.report({
        bridge: p.bridge,
        started: b.started ?? [],
        output: b.output ?? [],
        results: b.results ?? [],
        running: b.running ?? [],
      });
      const ended = (b.results ?? []).length;
      if (ended === 0 && (b.started ?? []).length === 0) request.audit.skip = true;
      else request.audit.details = { started: (b.started ?? []).length, ended };
      return { cancel: outcome.cancel };
    },
  );
}
