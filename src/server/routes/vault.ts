import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, notFound } from '../../core/errors.js';
import { iso } from '../../core/time.js';
import type { TeamRole } from '../../store/store.js';
import { actorOf, requireTeam } from '../auth.js';
import { ErrorBody, NameParams, VaultVersion } from '../schemas/common.js';
import { type App, type RouteDeps, typed } from './deps.js';

/** Vault key names: letters, digits and . _ / -, e.g. `db/password`. */
export const VAULT_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const Sealed = Type.String({
  minLength: 10,
  maxLength: 100_000,
  description: 'AES-256-GCM ciphertext made by the client',
});
const Master = Type.Object(
  { kdf: Type.String({ maxLength: 1000 }), verifier: Sealed },
  { additionalProperties: false },
);
const SecretParams = Type.Object({ name: NameParams.properties.name, '*': Type.String() });
const SecretMeta = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  updatedBy: Type.String(),
  updatedAt: Type.Union([Type.String(), Type.Null()]),
});

export function vaultRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock } = deps;

  const team = async (request: FastifyRequest, name: string, role: TeamRole) => {
    request.audit.team = name;
    const hidden = { code: 'TEAM_NOT_FOUND', message: `team '${name}' does not exist` };
    if ((await store.getTeam(name)) === null) throw notFound(hidden.code, hidden.message);
    requireTeam(request, name, role, hidden);
  };
  const keyName = (request: FastifyRequest, raw: string) => {
    const name = decodeURIComponent(raw);
    if (!VAULT_KEY_PATTERN.test(name) || name.includes('..')) {
      throw new AppError(
        'VALIDATION_FAILED',
        `'${name}' is not a vault key name (letters, digits, . _ / -)`,
        400,
        { field: 'key' },
      );
    }
    request.audit.target = name;
    return name;
  };

  r.get(
    '/vault/master',
    {
      config: { permission: 'vault:meta' },
      schema: {
        summary: 'Key derivation settings and verifier (no secret)',
        tags: ['vault'],
        response: { 200: Master, 404: ErrorBody },
      },
    },
    async () => {
      const m = await store.vault.getMaster();
      if (m === null)
        throw notFound('VAULT_NOT_INITIALISED', 'the vault is not set up; an admin runs rediacc vault init');
      return m;
    },
  );

  r.post(
    '/vault/master',
    {
      config: { permission: 'vault:admin' },
      schema: {
        summary: 'Set up the vault (once)',
        tags: ['vault'],
        body: Master,
        response: { 201: Type.Object({ ok: Type.Boolean() }), 409: ErrorBody },
      },
    },
    async (request, reply) => {
      request.audit.action = 'vault.init';
      await store.vault.initMaster(request.body, clock());
      reply.status(201);
      return { ok: true };
    },
  );

  r.put(
    '/vault/master',
    {
      config: { permission: 'vault:admin' },
      schema: {
        summary: 'Change the master password: new settings, verifier and every team key re-wrapped, at once',
        tags: ['vault'],
        body: Type.Object(
          {
            kdf: Master.properties.kdf,
            verifier: Sealed,
            teamKeys: Type.Array(
              Type.Object(
                { team: NameParams.properties.name, wrapped: Sealed },
                { additionalProperties: false },
              ),
              { maxItems: 10_000 },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ ok: Type.Boolean(), teams: Type.Integer() }), 409: ErrorBody },
      },
    },
    async (request) => {
      request.audit.action = 'vault.change-master';
      const b = request.body;
      await store.vault.changeMaster({ kdf: b.kdf, verifier: b.verifier }, b.teamKeys, clock());
      return { ok: true, teams: b.teamKeys.length };
    },
  );

  r.get(
    '/vault/team-keys',
    {
      config: { permission: 'vault:admin' },
      schema: {
        tags: ['vault'],
        response: { 200: Type.Array(Type.Object({ team: Type.String(), wrapped: Type.String() })) },
      },
    },
    async () => store.vault.listTeamKeys(),
  );

  r.get(
    '/teams/:name/vault-key',
    {
      config: { permission: 'vault:read' },
      schema: {
        tags: ['vault'],
        params: NameParams,
        response: { 200: Type.Object({ team: Type.String(), wrapped: Type.String() }), 404: ErrorBody },
      },
    },
    async (request) => {
      await team(request, request.params.name, 'operator');
      const wrapped = await store.vault.getTeamKey(request.params.name);
      if (wrapped === null)
        throw notFound('TEAM_KEY_NOT_FOUND', `team '${request.params.name}' has no vault key yet`);
      return { team: request.params.name, wrapped };
    },
  );

  r.post(
    '/teams/:name/vault-key',
    {
      config: { permission: 'vault:write' },
      schema: {
        summary: 'Store a team’s wrapped data key (once)',
        tags: ['vault'],
        params: NameParams,
        body: Type.Object({ wrapped: Sealed }, { additionalProperties: false }),
        response: { 201: Type.Object({ team: Type.String() }), 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      await team(request, request.params.name, 'maintainer');
      await store.vault.createTeamKey(request.params.name, request.body.wrapped, clock());
      reply.status(201);
      return { team: request.params.name };
    },
  );

  r.get(
    '/teams/:name/vault',
    {
      config: { permission: 'vault:list' },
      schema: {
        summary: 'Key names and versions; never values',
        tags: ['vault'],
        params: NameParams,
        response: { 200: Type.Array(SecretMeta), 404: ErrorBody },
      },
    },
    async (request) => {
      await team(request, request.params.name, 'viewer');
      return (await store.vault.listSecrets(request.params.name)).map((s) => ({
        ...s,
        updatedAt: iso(s.updatedAt),
      }));
    },
  );

  r.get(
    '/teams/:name/vault/*',
    {
      config: { permission: 'vault:read' },
      schema: {
        summary: 'One value’s ciphertext (every read is audited)',
        tags: ['vault'],
        params: SecretParams,
        response: {
          200: Type.Object({ ...SecretMeta.properties, ciphertext: Type.String() }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      await team(request, request.params.name, 'operator');
      const name = keyName(request, request.params['*']);
      request.audit.force = true;
      request.audit.action = 'vault.read';
      const s = await store.vault.getSecret(request.params.name, name);
      if (s === null)
        throw notFound('VAULT_KEY_NOT_FOUND', `team '${request.params.name}' has no vault key '${name}'`);
      return { ...s, updatedAt: iso(s.updatedAt) };
    },
  );

  r.put(
    '/teams/:name/vault/*',
    {
      config: { permission: 'vault:write' },
      schema: {
        summary:
          'Write a value: expectedVersion is the version it replaces (0 for a new key); another answers 409',
        tags: ['vault'],
        params: SecretParams,
        body: Type.Object(
          { ciphertext: Sealed, expectedVersion: VaultVersion },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ name: Type.String(), version: Type.Integer() }),
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request) => {
      await team(request, request.params.name, 'maintainer');
      const name = keyName(request, request.params['*']);
      request.audit.action = 'vault.set';
      const version = await store.vault.putSecret(
        request.params.name,
        name,
        request.body.ciphertext,
        request.body.expectedVersion,
        actorOf(request) ?? 'unknown',
        clock(),
      );
      request.audit.details = { version };
      const machine = /^ssh\/(.+)$/.exec(name)?.[1];
      if (machine !== undefined && (await store.getMachine(machine))?.team === request.params.name) {
        await store.fleet.setKeyCreatedAt(machine, clock());
      }
      return { name, version };
    },
  );

  r.delete(
    '/teams/:name/vault/*',
    {
      config: { permission: 'vault:write' },
      schema: { tags: ['vault'], params: SecretParams, response: { 204: Type.Null(), 404: ErrorBody } },
    },
    async (request, reply) => {
      await team(request, request.params.name, 'maintainer');
      const name = keyName(request, request.params['*']);
      request.audit.action = 'vault.delete';
      await store.vault.deleteSecret(request.params.name, name);
      return reply.status(204).send(null);
    },
  );
}
