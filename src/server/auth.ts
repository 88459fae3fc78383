import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import type { Store, TeamRole } from '../store/store.js';
import {
  allows,
  isPermission,
  PERMISSIONS,
  type Principal,
  teamAccess,
  visibleTeams,
} from './permissions.js';
import { hashToken } from './tokens.js';
import { sessionPrincipal } from './web/sessions.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: string;
  }
  interface FastifyRequest {
    principal: Principal | null;
    audit: AuditNote;
  }
}

/** What a handler tells the audit hook about its call. */
export interface AuditNote {
  action?: string;
  target?: string | null;
  team?: string | null;
  actor?: string;
  details?: Record<string, unknown>;
  /** Record this call even though it changes nothing (vault reads). */
  force?: boolean;
  /** The call was refused because of the caller's rights (also when it answers 404). */
  denied?: boolean;
  /** Do not record this call (bridge polls that changed nothing). */
  skip?: boolean;
  /** The outcome when the status alone does not tell it (a failed login is `failed`, not `denied`). */
  outcome?: 'ok' | 'denied' | 'failed';
}

/**
 * Bearer-token authentication and the permission check for every route. A
 * route registered without a known `config.permission` stops the server
 * from starting.
 */
export function installAuth(app: FastifyInstance, store: Store, clock: () => number): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('audit', null as unknown as AuditNote);
  app.addHook('onRoute', (route) => {
    const permission = route.config?.permission;
    if (!isPermission(permission)) {
      throw new Error(
        `route ${route.method} ${route.url} declares no valid permission (got ${String(permission)})`,
      );
    }
  });
  app.addHook('onRequest', async (request) => {
    request.audit = {};
    const permission = request.routeOptions.config.permission;
    if (!isPermission(permission) || PERMISSIONS[permission].scope === 'public') return;
    const principal = await authenticate(request, store, clock());
    request.principal = principal;
    if (!allows(principal, permission)) {
      request.audit.denied = true;
      throw new AppError('FORBIDDEN', `this token may not ${permission.replace(':', ' ')}`, 403);
    }
  });
}

/**
 * The caller of a request checked afresh, for streams that outlive the check at
 * the door: null once its token or session has ended (revoked, expired, logged
 * out, user disabled). Store failures are thrown.
 */
export async function reauthenticate(
  request: FastifyRequest,
  store: Store,
  now: number,
): Promise<Principal | null> {
  try {
    return await authenticate(request, store, now);
  } catch (err) {
    if (err instanceof AppError) return null;
    throw err;
  }
}

async function authenticate(request: FastifyRequest, store: Store, now: number): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined || header === '') {
    // The dashboard's session cookie (with its CSRF header for changes) stands in for a bearer token.
    const viaSession = await sessionPrincipal(request, store, now);
    if (viaSession !== undefined) return viaSession;
    throw new AppError('UNAUTHENTICATED', 'missing bearer token (Authorization: Bearer <token>)', 401);
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null)
    throw new AppError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>"', 401);
  const record = await store.findToken(hashToken(match[1] as string), now);
  if (record === null) throw new AppError('INVALID_TOKEN', 'token is unknown, revoked or expired', 401);
  if (record.kind === 'bridge') {
    return {
      kind: 'bridge',
      bridge: record.bridgeName as string,
      region: record.bridgeRegion as string,
      tokenName: record.name,
    };
  }
  const userId = record.userId as number;
  return {
    kind: 'user',
    userId,
    email: record.userEmail as string,
    isAdmin: record.isAdmin,
    tokenName: record.name,
    teams: record.isAdmin ? new Map() : await store.identity.membershipsOf(userId),
    scope: record.scope ?? null,
  };
}

/**
 * Checks the caller's role in the team of the object a route works on. Not a
 * member: the object does not exist for them (404 with `notFoundCode`). A
 * member without the role: 403.
 */
export function requireTeam(
  request: FastifyRequest,
  team: string,
  role: TeamRole,
  notFound: { code: string; message: string },
): void {
  const principal = request.principal;
  const access = principal === null ? 'hidden' : teamAccess(principal, team, role);
  if (access === 'ok') return;
  request.audit.denied = true;
  if (access === 'forbidden') {
    throw new AppError('FORBIDDEN', `your role in team '${team}' does not allow this (needs ${role})`, 403);
  }
  throw new AppError(notFound.code, notFound.message, 404);
}

/** Teams the caller may see; null means every team (admins). */
export function teamsOf(request: FastifyRequest): ReadonlySet<string> | null {
  return request.principal === null ? new Set() : visibleTeams(request.principal);
}

export function actorOf(request: FastifyRequest): string | null {
  const p = request.principal;
  if (p === null) return null;
  return p.kind === 'user' ? p.email : `bridge:${p.bridge}`;
}
