import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { allows, isPermission, type Principal } from './permissions.js';
import { hashToken } from './tokens.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    permission?: string;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/**
 * Bearer-token authentication and the permission check for every route. A
 * route registered without a known `config.permission` stops the server
 * from starting.
 */
export function installAuth(app: FastifyInstance, store: Store, clock: () => number): void {
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const permission = route.config?.permission;
    if (!isPermission(permission)) {
      throw new Error(
        `route ${route.method} ${route.url} declares no valid permission (got ${String(permission)})`,
      );
    }
  });
  app.addHook('onRequest', async (request) => {
    const permission = request.routeOptions.config.permission;
    if (!isPermission(permission) || permission === 'public') return;
    const principal = await authenticate(request, store, clock());
    if (!allows(principal, permission)) {
      throw new AppError('FORBIDDEN', `this token may not ${permission.replace(':', ' ')}`, 403);
    }
    request.principal = principal;
  });
}

async function authenticate(request: FastifyRequest, store: Store, now: number): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined || header === '') {
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
  return {
    kind: 'user',
    userId: record.userId as number,
    email: record.userEmail as string,
    isAdmin: record.isAdmin,
    tokenName: record.name,
  };
}

export function actorOf(request: FastifyRequest): string | null {
  const p = request.principal;
  if (p === null) return null;
  return p.kind === 'user' ? p.email : `bridge:${p.bridge}`;
}
