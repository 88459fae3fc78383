import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { notFound } from '../../core/errors.js';
import type { TeamRole } from '../../store/store.js';
import { requireTeam, teamsOf } from '../auth.js';
import { presentMachine } from '../present.js';
import { ErrorBody, NameParams } from '../schemas/common.js';
import { CreateMachineBody, MachineOut, NameBody, TeamOut, UpdateMachineBody } from '../schemas/fleet.js';
import { DEFAULT_MACHINE_CONCURRENCY } from '../settings.js';
import { type App, type RouteDeps, typed } from './deps.js';

const MachineQuery = Type.Object(
  { team: Type.Optional(Type.String()), region: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export function fleetRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock } = deps;
  const iso = (ms: number) => new Date(ms).toISOString();
  /** The machine, if the caller's team role allows `role` on it; otherwise as if it did not exist. */
  const load = async (request: FastifyRequest, name: string, role: TeamRole) => {
    const m = await store.getMachine(name);
    const hidden = { code: 'MACHINE_NOT_FOUND', message: `machine '${name}' does not exist` };
    if (m === null) throw notFound(hidden.code, hidden.message);
    request.audit.target = name;
    request.audit.team = m.team;
    requireTeam(request, m.team, role, hidden);
    return m;
  };

  r.post(
    '/machines',
    {
      config: { permission: 'machine:write' },
      schema: {
        tags: ['machines'],
        body: CreateMachineBody,
        response: { 201: MachineOut, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const team = b.team ?? 'default';
      request.audit.target = b.name;
      request.audit.team = team;
      requireTeam(request, team, 'maintainer', {
        code: 'TEAM_NOT_FOUND',
        message: `team '${team}' does not exist`,
      });
      const transport = b.transport ?? (b.host === undefined ? 'local' : 'ssh');
      const machine = await store.createMachine(
        {
          name: b.name,
          team,
          region: b.region ?? 'default',
          transport,
          concurrency: b.concurrency ?? DEFAULT_MACHINE_CONCURRENCY,
          labels: b.labels ?? {},
          host: b.host ?? null,
          port: b.port ?? (transport === 'ssh' ? 22 : null),
          user: b.user ?? null,
          hostKey: b.hostKey ?? null,
        },
        clock(),
      );
      const key = await store.vault.getSecret(team, `ssh/${machine.name}`);
      if (key !== null) await store.fleet.setKeyCreatedAt(machine.name, key.updatedAt);
      request.log.info({ machine: machine.name, team: machine.team }, 'machine created');
      reply.status(201);
      return presentMachine((await store.getMachine(machine.name)) ?? machine);
    },
  );

  r.get(
    '/machines',
    {
      config: { permission: 'machine:read' },
      schema: { tags: ['machines'], querystring: MachineQuery, response: { 200: Type.Array(MachineOut) } },
    },
    async (request) => {
      const q = request.query;
      const machines = await store.listMachines({
        ...(q.team === undefined ? {} : { team: q.team }),
        ...(q.region === undefined ? {} : { region: q.region }),
        teams: teamsOf(request),
      });
      return machines.map(presentMachine);
    },
  );

  r.get(
    '/machines/:name',
    {
      config: { permission: 'machine:read' },
      schema: { tags: ['machines'], params: NameParams, response: { 200: MachineOut, 404: ErrorBody } },
    },
    async (request) => presentMachine(await load(request, request.params.name, 'viewer')),
  );

  r.patch(
    '/machines/:name',
    {
      config: { permission: 'machine:write' },
      schema: {
        tags: ['machines'],
        params: NameParams,
        body: UpdateMachineBody,
        response: { 200: MachineOut, 404: ErrorBody },
      },
    },
    async (request) => {
      await load(request, request.params.name, 'maintainer');
      const b = request.body;
      const patch = Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined));
      request.audit.details = { changed: Object.keys(patch) };
      const m = await store.updateMachine(request.params.name, patch, clock());
      request.log.info({ machine: m.name, team: m.team, changed: Object.keys(patch) }, 'machine updated');
      deps.bus.publish(`region:${m.region}`, { type: 'wake' });
      return presentMachine(m);
    },
  );

  r.delete(
    '/machines/:name',
    {
      config: { permission: 'machine:write' },
      schema: {
        tags: ['machines'],
        params: NameParams,
        response: { 204: Type.Null(), 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      await load(request, request.params.name, 'maintainer');
      await store.deleteMachine(request.params.name);
      request.log.info({ machine: request.params.name }, 'machine deleted');
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/teams',
    {
      config: { permission: 'team:write' },
      schema: { tags: ['teams'], body: NameBody, response: { 201: TeamOut, 400: ErrorBody, 409: ErrorBody } },
    },
    async (request, reply) => {
      request.audit.target = request.body.name;
      const team = await store.createTeam(request.body.name, clock());
      request.log.info({ team: team.name }, 'team created');
      reply.status(201);
      return { name: team.name, createdAt: iso(team.createdAt) };
    },
  );

  r.get(
    '/teams',
    {
      config: { permission: 'team:read' },
      schema: { tags: ['teams'], response: { 200: Type.Array(TeamOut) } },
    },
    async (request) => {
      const visible = teamsOf(request);
      return (await store.listTeams())
        .filter((t) => visible === null || visible.has(t.name))
        .map((t) => ({ name: t.name, createdAt: iso(t.createdAt) }));
    },
  );

  r.delete(
    '/teams/:name',
    {
      config: { permission: 'team:write' },
      schema: {
        tags: ['teams'],
        params: NameParams,
        response: { 204: Type.Null(), 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      request.audit.target = request.params.name;
      await store.deleteTeam(request.params.name);
      request.log.info({ team: request.params.name }, 'team deleted');
      return reply.status(204).send(null);
    },
  );

  r.patch(
    '/teams/:name',
    {
      config: { permission: 'team:settings' },
      schema: {
        summary: 'Team settings: the maximum age of machines’ SSH keys (days; null for none)',
        tags: ['teams'],
        params: NameParams,
        body: Type.Object(
          { maxKeyAgeDays: Type.Union([Type.Number({ minimum: 1, maximum: 3650 }), Type.Null()]) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ name: Type.String(), maxKeyAgeDays: Type.Union([Type.Number(), Type.Null()]) }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const team = request.params.name;
      request.audit.target = team;
      request.audit.team = team;
      request.audit.details = { maxKeyAgeDays: request.body.maxKeyAgeDays };
      const hidden = { code: 'TEAM_NOT_FOUND', message: `team '${team}' does not exist` };
      if ((await store.getTeam(team)) === null) throw notFound(hidden.code, hidden.message);
      requireTeam(request, team, 'maintainer', hidden);
      await store.fleet.setMaxKeyAge(team, request.body.maxKeyAgeDays);
      await deps.fleet.alertOldKeys();
      return { name: team, maxKeyAgeDays: request.body.maxKeyAgeDays };
    },
  );

  r.post(
    '/regions',
    {
      config: { permission: 'region:write' },
      schema: { tags: ['regions'], body: NameBody, response: { 201: TeamOut, 400: ErrorBody } },
    },
    async (request, reply) => {
      request.audit.target = request.body.name;
      const region = await store.ensureRegion(request.body.name, clock());
      reply.status(201);
      return { name: region.name, createdAt: iso(region.createdAt) };
    },
  );

  r.get(
    '/regions',
    {
      config: { permission: 'region:read' },
      schema: { tags: ['regions'], response: { 200: Type.Array(TeamOut) } },
    },
    async () => (await store.listRegions()).map((t) => ({ name: t.name, createdAt: iso(t.createdAt) })),
  );
}
