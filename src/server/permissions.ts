/**
 * Every route declares one of these permissions; this table says who holds
 * it. A route without a declared permission fails the server's start.
 */
export const PERMISSIONS = {
  public: { users: 'none', bridge: false },
  'api:read': { users: 'any', bridge: false },
  'task:read': { users: 'any', bridge: false },
  'task:create': { users: 'admin', bridge: false },
  'task:cancel': { users: 'admin', bridge: false },
  'task:retry': { users: 'admin', bridge: false },
  'machine:read': { users: 'any', bridge: false },
  'machine:write': { users: 'admin', bridge: false },
  'team:read': { users: 'any', bridge: false },
  'team:write': { users: 'admin', bridge: false },
  'region:read': { users: 'any', bridge: false },
  'region:write': { users: 'admin', bridge: false },
  'bridge:read': { users: 'any', bridge: false },
  'bridge:write': { users: 'admin', bridge: false },
  'bridge:protocol': { users: 'none', bridge: true },
  'alert:read': { users: 'any', bridge: false },
  'queue:read': { users: 'any', bridge: false },
} as const satisfies Record<string, { users: 'none' | 'any' | 'admin'; bridge: boolean }>;

export type Permission = keyof typeof PERMISSIONS;

export type Principal =
  | { kind: 'user'; userId: number; email: string; isAdmin: boolean; tokenName: string }
  | { kind: 'bridge'; bridge: string; region: string; tokenName: string };

/** Whether `principal` holds `permission`. Pure; the auth hook calls it. */
export function allows(principal: Principal, permission: Permission): boolean {
  const rule = PERMISSIONS[permission];
  if (principal.kind === 'bridge') return rule.bridge;
  if (rule.users === 'any') return true;
  if (rule.users === 'admin') return principal.isAdmin;
  return false;
}

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && Object.hasOwn(PERMISSIONS, value);
}
