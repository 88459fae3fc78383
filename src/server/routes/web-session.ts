import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError, invalid } from '../../core/errors.js';
import { DAY_MS, iso } from '../../core/time.js';
import { loginLimiterFor } from '../login-limiter.js';
import { verifyPassword } from '../passwords.js';
import type { Principal } from '../permissions.js';
import { ErrorBody } from '../schemas/common.js';
import { hashToken } from '../tokens.js';
import {
  csrfTokenFor,
  isHttps,
  newSessionSecret,
  SESSION_IDLE_MS,
  SESSION_MAX_MS,
  sessionCookie,
  sessionOf,
} from '../web/sessions.js';
import { type App, type RouteDeps, typed } from './deps.js';

const SessionOut = Type.Object({
  email: Type.String(),
  admin: Type.Boolean(),
  teams: Type.Array(Type.Object({ team: Type.String(), role: Type.String() })),
  via: Type.Union([Type.Literal('session'), Type.Literal('token')], {
    description: 'session: the dashboard cookie; token: a bearer token',
  }),
  csrfToken: Type.Union([Type.String(), Type.Null()], {
    description: 'send it as the X-CSRF-Token header with every change made through the session',
  }),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
});

const MAX_USER_AGENT = 300;

/** Log in to the dashboard (a session cookie), see who you are, log out. */
export function webSessionRoutes(app: App, deps: RouteDeps): void {
  const r = typed(app);
  const { store, clock } = deps;
  const limiter = loginLimiterFor(store);

  const describe = async (p: Extract<Principal, { kind: 'user' }>, request: FastifyRequest) => {
    const s = sessionOf(request);
    return {
      email: p.email,
      admin: p.isAdmin,
      teams: [...p.teams].map(([team, role]) => ({ team, role })),
      via: s === undefined ? ('token' as const) : ('session' as const),
      csrfToken: s === undefined ? null : csrfTokenFor(s.secret),
      expiresAt: s === undefined ? null : iso(Math.min(s.session.idleExpiresAt, s.session.expiresAt)),
    };
  };

  const refuse = (request: FastifyRequest, account: string) => {
    request.audit.outcome = 'failed';
    limiter.fail(account, request.ip, clock());
    throw new AppError('LOGIN_FAILED', 'wrong email or password (or token), or the account is disabled', 401);
  };

  const throttle = (request: FastifyRequest, reply: FastifyReply, account: string) => {
    const wait = limiter.retryAfterMs(account, request.ip, clock());
    if (wait <= 0) return;
    reply.header('retry-after', String(Math.ceil(wait / 1000)));
    request.audit.outcome = 'denied';
    throw new AppError('LOGIN_RATE_LIMITED', 'too many failed logins; try again later', 429);
  };

  r.post(
    '/auth/session',
    {
      config: { permission: 'public' },
      schema: {
        summary:
          'Open a dashboard session with email and password, or with an API token; sets an HttpOnly cookie',
        tags: ['auth'],
        body: Type.Object(
          {
            email: Type.Optional(Type.String({ pattern: '^[^\\s@]+@[^\\s@]+$', maxLength: 254 })),
            password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
            token: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: SessionOut, 400: ErrorBody, 401: ErrorBody, 429: ErrorBody },
      },
    },
    async (request, reply) => {
      const { email, password, token } = request.body;
      const now = clock();
      let user: { id: number; email: string; isAdmin: boolean };
      let tokenHash: string | null = null;
      if (token !== undefined) {
        if (email !== undefined || password !== undefined)
          throw invalid('give either a token or an email and password, not both', 'token');
        // Per address: a token names no account to count failures against.
        const account = `api-token@${request.ip}`;
        throttle(request, reply, account);
        tokenHash = hashToken(token);
        const record = await store.findToken(tokenHash, now);
        if (record === null || record.kind !== 'user' || record.userId === null || record.userEmail === null)
          return refuse(request, account);
        // A narrowed token (metrics only) must not open a session with its owner's full rights.
        if ((record.scope ?? null) !== null) return refuse(request, account);
        user = { id: record.userId, email: record.userEmail, isAdmin: record.isAdmin };
        limiter.succeed(account);
      } else {
        if (email === undefined) throw invalid('email is required (or a token)', 'email');
        if (password === undefined) throw invalid('password is required', 'password');
        request.audit.actor = email;
        throttle(request, reply, email);
        const account = await store.identity.getUserAuth(email);
        const ok = await verifyPassword(password, account?.passwordHash ?? null);
        if (!ok || account === null || account.disabled) return refuse(request, email);
        limiter.succeed(email);
        const found = await store.getUserByEmail(email);
        if (found === null) return refuse(request, email);
        user = found;
      }
      request.audit.actor = user.email;
      request.audit.target = user.email;
      request.audit.action = 'auth.session.create';
      request.audit.details = { via: token === undefined ? 'password' : 'token' };
      const secret = newSessionSecret();
      const expiresAt = now + SESSION_MAX_MS;
      await store.web.createSession({
        hash: hashToken(secret),
        userId: user.id,
        tokenHash,
        now,
        idleExpiresAt: now + SESSION_IDLE_MS,
        expiresAt,
        source: request.ip,
        userAgent: (request.headers['user-agent'] ?? '').slice(0, MAX_USER_AGENT) || null,
      });
      // Sessions that ended more than a day ago go; every replica may do it, it is idempotent.
      await store.web.pruneSessions(now - DAY_MS);
      reply.header('set-cookie', sessionCookie(secret, isHttps(request)));
      reply.header('cache-control', 'no-store');
      return {
        email: user.email,
        admin: user.isAdmin,
        teams: user.isAdmin
          ? []
          : [...(await store.identity.membershipsOf(user.id))].map(([team, role]) => ({ team, role })),
        via: 'session' as const,
        csrfToken: csrfTokenFor(secret),
        expiresAt: iso(now + SESSION_IDLE_MS),
      };
    },
  );

  r.get(
    '/auth/session',
    {
      config: { permission: 'self:tokens' },
      schema: {
        summary: 'Who you are: email, admin, team roles, and the CSRF token of your dashboard session',
        tags: ['auth'],
        response: { 200: SessionOut },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return describe(request.principal as Extract<Principal, { kind: 'user' }>, request);
    },
  );

  r.delete(
    '/auth/session',
    {
      config: { permission: 'self:tokens' },
      schema: {
        summary: 'Log out: ends the dashboard session of this cookie (a bearer token stays valid)',
        tags: ['auth'],
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const s = sessionOf(request);
      request.audit.target = 'web session';
      request.audit.details = { ended: s !== undefined };
      if (s !== undefined) await store.web.endSession(hashToken(s.secret), clock());
      reply.header('set-cookie', sessionCookie(null, isHttps(request)));
      return reply.status(204).send(null);
    },
  );
}
