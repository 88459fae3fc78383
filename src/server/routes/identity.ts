import { Type } from 'typebox';
import { AppError, notFound } from '../../core/errors.js';
import { DAY_MS, iso } from '../../core/time.js';
import type { TeamRole } from '../../store/store.js';
import { requireTeam } from '../auth.js';
import { loginLimiterFor } from '../login-limiter.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from '../passwords.js';
import type { Principal } from '../permissions.js';
import { ErrorBody, NameParams } from '../schemas/common.js';
import { hashToken, newToken } from '../tokens.js';
import { type App, type RouteDeps, typed } from './deps.js';

const Email = Type.String({ pattern: '^[^\\s@]+@[^\\s@]+$', maxLength: 254 });
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const Role = Type.Enum(['maintainer', 'operator', 'viewer']);
const ExpiresDays = Type.Integer({ minimum: 1, maximum: 3650, description: 'days until the token expires' });
const SETUP_TOKEN_DAYS = 7;
const LOGIN_TOKEN_DAYS = 30;

export function identityRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock } = deps;
  const limiter = loginLimiterFor(store);
  const user = (p: Principal | null) => p as Extract<Principal, { kind: 'user' }>;

  const issueToken = async (userId: number, name: string, days: number | null) => {
    const token = newToken('rdc');
    const now = clock();
    const expiresAt = days === null ? null : now + days * DAY_MS;
    await store.createToken({
      hash: hashToken(token),
      kind: 'user',
      name,
      userId,
      bridgeName: null,
      now,
      expiresAt,
    });
    return { token, name, expiresAt: iso(expiresAt) };
  };

  r.post(
    '/auth/login',
    {
      config: { permission: 'public' },
      schema: {
        summary:
          'Log in with email and password; answers a new API token (rate-limited per account and address)',
        tags: ['auth'],
        body: Type.Object(
          {
            email: Email,
            password: Password,
            tokenName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            token: Type.String(),
            name: Type.String(),
            expiresAt: Type.Union([Type.String(), Type.Null()]),
          }),
          401: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { email, password } = request.body;
      request.audit.actor = email;
      request.audit.target = email;
      const wait = limiter.retryAfterMs(email, request.ip, clock());
      if (wait > 0) {
        reply.header('retry-after', String(Math.ceil(wait / 1000)));
        request.audit.outcome = 'denied';
        throw new AppError('LOGIN_RATE_LIMITED', 'too many failed logins; try again later', 429);
      }
      const account = await store.identity.getUserAuth(email);
      const ok = await verifyPassword(password, account?.passwordHash ?? null);
      if (!ok || account === null || account.disabled) {
        request.audit.outcome = 'failed';
        limiter.fail(email, request.ip, clock());
        throw new AppError('LOGIN_FAILED', 'wrong email or password, or the account is disabled', 401);
      }
      limiter.succeed(email);
      return issueToken(
        account.id,
        request.body.tokenName ?? `login ${new Date(clock()).toISOString()}`,
        LOGIN_TOKEN_DAYS,
      );
    },
  );

  r.post(
    '/auth/setup',
    {
      config: { permission: 'public' },
      schema: {
        summary: 'Set a new user’s password with the one-time setup token',
        tags: ['auth'],
        body: Type.Object(
          { email: Email, setupToken: Type.String({ maxLength: 200 }), password: Password },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ email: Type.String() }), 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const { email, setupToken, password } = request.body;
      request.audit.actor = email;
      request.audit.target = email;
      const account = await store.identity.getUserAuth(email);
      const valid =
        account !== null &&
        account.setupTokenHash !== null &&
        account.setupTokenHash === hashToken(setupToken) &&
        (account.setupExpiresAt ?? 0) > clock();
      if (!valid || account === null)
        throw new AppError('SETUP_TOKEN_INVALID', 'the setup token is wrong, used or expired', 401);
      checkPasswordPolicy(password);
      await store.identity.setPassword(account.id, await hashPassword(password));
      return { email };
    },
  );

  const UserOut = Type.Object({
    email: Type.String(),
    admin: Type.Boolean(),
    disabled: Type.Boolean(),
    hasPassword: Type.Boolean(),
    teams: Type.Array(Type.Object({ team: Type.String(), role: Type.String() })),
    createdAt: Type.Union([Type.String(), Type.Null()]),
  });

  r.post(
    '/users',
    {
      config: { permission: 'user:admin' },
      schema: {
        summary: 'Create a user; without a password the answer holds a one-time setup token',
        tags: ['users'],
        body: Type.Object(
          { email: Email, admin: Type.Optional(Type.Boolean()), password: Type.Optional(Password) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            email: Type.String(),
            admin: Type.Boolean(),
            setupToken: Type.Optional(Type.String()),
          }),
          400: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { email, admin = false, password } = request.body;
      request.audit.target = email;
      if (password !== undefined) checkPasswordPolicy(password);
      const created = await store.createUser({ email, isAdmin: admin, now: clock() });
      reply.status(201);
      if (password !== undefined) {
        await store.identity.setPassword(created.id, await hashPassword(password));
        return { email, admin };
      }
      const setupToken = newToken('rdc');
      await store.identity.setSetupToken(
        created.id,
        hashToken(setupToken),
        clock() + SETUP_TOKEN_DAYS * DAY_MS,
      );
      return { email, admin, setupToken };
    },
  );

  r.get(
    '/users',
    {
      config: { permission: 'user:admin' },
      schema: { tags: ['users'], response: { 200: Type.Array(UserOut) } },
    },
    async () =>
      (await store.identity.listUsers()).map((u) => ({
        email: u.email,
        admin: u.isAdmin,
        disabled: u.disabled,
        hasPassword: u.hasPassword,
        teams: u.teams,
        createdAt: iso(u.createdAt),
      })),
  );

  r.patch(
    '/users/:email',
    {
      config: { permission: 'user:admin' },
      schema: {
        tags: ['users'],
        params: Type.Object({ email: Email }),
        body: Type.Object(
          { disabled: Type.Optional(Type.Boolean()), admin: Type.Optional(Type.Boolean()) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserOut, 404: ErrorBody },
      },
    },
    async (request) => {
      const { email } = request.params;
      request.audit.target = email;
      request.audit.details = { ...request.body };
      const patch: { disabled?: boolean; isAdmin?: boolean } = {};
      if (request.body.disabled !== undefined) patch.disabled = request.body.disabled;
      if (request.body.admin !== undefined) patch.isAdmin = request.body.admin;
      const u = await store.identity.updateUser(email, patch);
      return {
        email: u.email,
        admin: u.isAdmin,
        disabled: u.disabled,
        hasPassword: u.hasPassword,
        teams: u.teams,
        createdAt: iso(u.createdAt),
      };
    },
  );

  const TokenOut = Type.Object({
    id: Type.Integer(),
    name: Type.String(),
    createdAt: Type.Union([Type.String(), Type.Null()]),
    expiresAt: Type.Union([Type.String(), Type.Null()]),
    revokedAt: Type.Union([Type.String(), Type.Null()]),
    /** 'metrics': may only scrape GET /metrics; null: your rights. */
    scope: Type.Union([Type.Literal('metrics'), Type.Null()]),
  });

  r.post(
    '/tokens',
    {
      config: { permission: 'self:tokens' },
      schema: {
        summary: 'Create an API token for yourself; it is shown once',
        tags: ['tokens'],
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }), expiresInDays: Type.Optional(ExpiresDays) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            token: Type.String(),
            name: Type.String(),
            expiresAt: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (request, reply) => {
      const me = user(request.principal);
      request.audit.target = request.body.name;
      reply.status(201);
      return issueToken(me.userId, request.body.name, request.body.expiresInDays ?? null);
    },
  );

  r.get(
    '/tokens',
    {
      config: { permission: 'self:tokens' },
      schema: { tags: ['tokens'], response: { 200: Type.Array(TokenOut) } },
    },
    async (request) =>
      (await store.identity.listTokens(user(request.principal).userId)).map((t) => ({
        id: t.id,
        name: t.name,
        createdAt: iso(t.createdAt),
        expiresAt: iso(t.expiresAt),
        revokedAt: iso(t.revokedAt),
        scope: t.scope ?? null,
      })),
  );

  r.delete(
    '/tokens/:token',
    {
      config: { permission: 'self:tokens' },
      schema: {
        summary: 'Revoke one of your tokens by id or name',
        tags: ['tokens'],
        params: Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 204: Type.Null(), 404: ErrorBody },
      },
    },
    async (request, reply) => {
      request.audit.target = request.params.token;
      const done = await store.identity.revokeToken(
        user(request.principal).userId,
        request.params.token,
        clock(),
      );
      if (!done) throw notFound('TOKEN_NOT_FOUND', `you have no live token '${request.params.token}'`);
      return reply.status(204).send(null);
    },
  );

  const members = (team: string) => ({ code: 'TEAM_NOT_FOUND', message: `team '${team}' does not exist` });

  r.get(
    '/teams/:name/members',
    {
      config: { permission: 'member:read' },
      schema: {
        tags: ['teams'],
        params: NameParams,
        response: {
          200: Type.Array(
            Type.Object({
              email: Type.String(),
              role: Type.String(),
              addedAt: Type.Union([Type.String(), Type.Null()]),
            }),
          ),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const team = request.params.name;
      if ((await store.getTeam(team)) === null)
        throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
      requireTeam(request, team, 'viewer', members(team));
      return (await store.identity.listMembers(team)).map((m) => ({ ...m, addedAt: iso(m.addedAt) }));
    },
  );

  r.post(
    '/teams/:name/members',
    {
      config: { permission: 'member:write' },
      schema: {
        summary: 'Add a member to a team, or change their role',
        tags: ['teams'],
        params: NameParams,
        body: Type.Object({ email: Email, role: Role }, { additionalProperties: false }),
        response: {
          201: Type.Object({ team: Type.String(), email: Type.String(), role: Type.String() }),
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const team = request.params.name;
      request.audit.team = team;
      request.audit.target = request.body.email;
      request.audit.details = { role: request.body.role };
      if ((await store.getTeam(team)) === null)
        throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
      requireTeam(request, team, 'maintainer', members(team));
      await store.identity.addMember(team, request.body.email, request.body.role as TeamRole, clock());
      reply.status(201);
      return { team, email: request.body.email, role: request.body.role };
    },
  );

  r.delete(
    '/teams/:name/members/:email',
    {
      config: { permission: 'member:write' },
      schema: {
        tags: ['teams'],
        params: Type.Object({ name: NameParams.properties.name, email: Email }),
        response: { 204: Type.Null(), 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const team = request.params.name;
      request.audit.team = team;
      request.audit.target = request.params.email;
      if ((await store.getTeam(team)) === null)
        throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
      requireTeam(request, team, 'maintainer', members(team));
      await store.identity.removeMember(team, request.params.email);
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/bridges/:name/reset-token',
    {
      config: { permission: 'bridge:write' },
      schema: {
        summary: 'Revoke a bridge’s tokens and issue a new one (shown once)',
        tags: ['bridges'],
        params: NameParams,
        response: {
          200: Type.Object({ name: Type.String(), region: Type.String(), token: Type.String() }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const bridge = await store.getBridge(request.params.name);
      request.audit.target = request.params.name;
      if (bridge === null)
        throw notFound('BRIDGE_NOT_FOUND', `bridge '${request.params.name}' does not exist`);
      const now = clock();
      await store.identity.revokeBridgeTokens(bridge.name, now);
      const token = newToken('rdb');
      await store.createToken({
        hash: hashToken(token),
        kind: 'bridge',
        name: `bridge:${bridge.name}`,
        userId: null,
        bridgeName: bridge.name,
        now,
        expiresAt: null,
      });
      return { name: bridge.name, region: bridge.region, token };
    },
  );
}
