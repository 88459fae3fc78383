import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import { requireTeam } from '../auth.js';
import type { Principal } from '../permissions.js';
import { ErrorBody, NameParams } from '../schemas/common.js';
import { HostKey } from '../schemas/fleet.js';
import { type App, type RouteDeps, typed } from './deps.js';

const Num = Type.Union([Type.Number(), Type.Null()]);
const HealthBody = Type.Object(
  {
    reports: Type.Array(
      Type.Object(
        {
          machine: NameParams.properties.name,
          at: Type.Number({ minimum: 0, maximum: 8_640_000_000_000_000 }),
          ok: Type.Boolean(),
          error: Type.Union([Type.String({ maxLength: 1000 }), Type.Null()]),
          cpuPercent: Num,
          load1: Num,
          memUsedBytes: Num,
          memTotalBytes: Num,
          diskUsedBytes: Num,
          diskTotalBytes: Num,
        },
        { additionalProperties: false },
      ),
      { maxItems: 10_000 },
    ),
  },
  { additionalProperties: false },
);

export function bridgeFleetRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const bridgeOf = (p: Principal | null) => p as Extract<Principal, { kind: 'bridge' }>;

  r.get(
    '/bridge/machines',
    {
      config: { permission: 'bridge:protocol' },
      schema: {
        summary: 'Bridge protocol: the machines of the bridge region, with what it needs to reach them',
        tags: ['bridge protocol'],
      },
    },
    async (request) => deps.fleet.machinesFor(bridgeOf(request.principal).region),
  );

  r.post(
    '/bridge/host-key',
    {
      config: { permission: 'bridge:protocol' },
      schema: {
        summary: 'Bridge protocol: pin the host key seen on the first connection',
        tags: ['bridge protocol'],
        body: Type.Object(
          { machine: NameParams.properties.name, hostKey: HostKey },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ pinned: Type.Boolean() }), 409: ErrorBody },
      },
    },
    async (request) => {
      request.audit.target = request.body.machine;
      request.audit.action = 'machines.host-key.pin';
      await deps.fleet.pinHostKey(
        bridgeOf(request.principal).region,
        request.body.machine,
        request.body.hostKey,
      );
      return { pinned: true };
    },
  );

  r.post(
    '/bridge/health',
    {
      config: { permission: 'bridge:protocol' },
      schema: {
        summary: 'Bridge protocol: health samples of machines',
        tags: ['bridge protocol'],
        body: HealthBody,
      },
    },
    async (request) => {
      request.audit.skip = true;
      await deps.fleet.recordHealth(bridgeOf(request.principal).region, request.body.reports);
      return { ok: true };
    },
  );

  r.get(
    '/machines/:name/health',
    {
      config: { permission: 'machine:read' },
      schema: {
        summary: 'One-minute health history of a machine (a day is kept)',
        tags: ['machines'],
        params: NameParams,
        querystring: Type.Object(
          { minutes: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Array(
            Type.Object({
              time: Type.String(),
              minute: Type.Integer(),
              cpuPercent: Num,
              load1: Num,
              memUsedBytes: Num,
              memTotalBytes: Num,
              diskUsedBytes: Num,
              diskTotalBytes: Num,
            }),
          ),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const m = await deps.store.getMachine(request.params.name);
      const hidden = {
        code: 'MACHINE_NOT_FOUND',
        message: `machine '${request.params.name}' does not exist`,
      };
      if (m === null) throw notFound(hidden.code, hidden.message);
      requireTeam(request, m.team, 'viewer', hidden);
      const minutes = Math.min(1440, Number(request.query.minutes ?? 1440));
      const since = Math.floor(deps.clock() / 60_000) - minutes;
      const points = await deps.store.fleet.healthHistory(m.name, since);
      return points.map((p) => ({ ...p, time: new Date(p.minute * 60_000).toISOString() }));
    },
  );
}
