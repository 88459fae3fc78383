import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../../core/time.js';
import type { Store } from '../../store/store.js';
import type { WebSession } from '../../store/web-store.js';
import type { Principal } from '../permissions.js';
import { hashToken } from '../tokens.js';

/**
 * Dashboard sessions. The cookie holds a random secret (HttpOnly, so scripts
 * never see it); the store keeps only its SHA-256. Requests that change
 * something must also carry the session's CSRF token in a header: a value
 * derived from the secret that the page receives from the API, which another
 * site can neither read nor guess (SameSite=Strict is the second fence).
 */
export const SESSION_COOKIE = 'rediacc_session';
export const CSRF_HEADER = 'x-csrf-token';
/** A session ends after this long without a request. */
export const SESSION_IDLE_MS = 12 * HOUR_MS;
/** …and after this long in any case. */
export const SESSION_MAX_MS = 7 * DAY_MS;
/** The idle expiry is moved on at most this often (one write per session per minute). */
const TOUCH_EVERY_MS = MINUTE_MS;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface ActiveSession {
  secret: string;
  session: WebSession;
}

const active = new WeakMap<FastifyRequest, ActiveSession>();

/** The session a request was authenticated with, if it came with the cookie. */
export function sessionOf(request: FastifyRequest): ActiveSession | undefined {
  return active.get(request);
}

export function newSessionSecret(): string {
  return `rds_${randomBytes(32).toString('base64url')}`;
}

/** The CSRF token of a session: derived from its secret, so it needs no storage. */
export function csrfTokenFor(secret: string): string {
  return createHash('sha256').update(`rediacc csrf\0${secret}`).digest('base64url');
}

/** One cookie's value from a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the browser reached us over https (directly, or through a proxy that says so). */
export function isHttps(request: FastifyRequest): boolean {
  if (request.protocol === 'https') return true;
  const forwarded = request.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  return first === 'https';
}

/** The Set-Cookie value that stores (or, with value null, clears) the session cookie. */
export function sessionCookie(value: string | null, secure: boolean, maxAgeMs = SESSION_MAX_MS): string {
  const parts = [
    `${SESSION_COOKIE}=${value ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${value === null ? 0 : Math.floor(maxAgeMs / 1000)}`,
  ];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The principal of a request that carries the session cookie (and no bearer
 * token); undefined when there is no cookie. An unknown or ended session is
 * 401; a request that changes something without the session's CSRF token is 403.
 */
export async function sessionPrincipal(
  request: FastifyRequest,
  store: Store,
  now: number,
): Promise<Principal | undefined> {
  const secret = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (secret === undefined || secret === '') return undefined;
  const session = await store.web.findSession(hashToken(secret), now);
  if (session === null) {
    throw new AppError('SESSION_EXPIRED', 'the session has ended or expired; log in again', 401);
  }
  if (!SAFE_METHODS.has(request.method)) {
    const sent = request.headers[CSRF_HEADER];
    const token = Array.isArray(sent) ? sent[0] : sent;
    if (token === undefined || !sameText(token, csrfTokenFor(secret))) {
      request.audit.actor = session.email;
      throw new AppError('CSRF_FAILED', `a change through a session needs its ${CSRF_HEADER} header`, 403);
    }
  }
  if (now - session.lastSeenAt >= TOUCH_EVERY_MS) {
    await store.web.touchSession(session.id, now, Math.min(now + SESSION_IDLE_MS, session.expiresAt));
  }
  active.set(request, { secret, session });
  return {
    kind: 'user',
    userId: session.userId,
    email: session.email,
    isAdmin: session.isAdmin,
    tokenName: 'web session',
    teams: session.isAdmin ? new Map() : await store.identity.membershipsOf(session.userId),
  };
}
