import { createHash, randomBytes } from 'node:crypto';

/** API and bridge tokens: random, shown once, stored as a SHA-256 hash. */
export function newToken(prefix: 'rdc' | 'rdb'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
