import type { TeamRole, TokenScope } from '../store/store.js';

/**
 * Every route declares one of these permissions; this table says who holds
 * it. A route without a declared permission stops the server from starting.
 *
 * - `public`: no token.
 * - `user`: any user token (lists are filtered to the user's teams).
 * - `admin`: organisation admins.
 * - `team`: a team role at least `role` in the team of the object; the route
 *   names the team through `requireTeam`. Another team's object answers 404.
 * - `bridge`: bridge tokens only.
 */
export type Rule =
  | { scope: 'public' }
  | { scope: 'user' }
  | { scope: 'admin' }
  | { scope: 'team'; role: TeamRole }
  | { scope: 'bridge' };

export const PERMISSIONS = {
  public: { scope: 'public' },
  'api:read': { scope: 'user' },
  'self:tokens': { scope: 'user' },
  'task:read': { scope: 'team', role: 'viewer' },
  'task:create': { scope: 'team', role: 'operator' },
  'task:cancel': { scope: 'team', role: 'operator' },
  'task:retry': { scope: 'team', role: 'operator' },
  'schedule:read': { scope: 'team', role: 'viewer' },
  'schedule:write': { scope: 'team', role: 'operator' },
  'machine:read': { scope: 'team', role: 'viewer' },
  'machine:write': { scope: 'team', role: 'maintainer' },
  'team:read': { scope: 'user' },
  'team:write': { scope: 'admin' },
  'member:read': { scope: 'team', role: 'viewer' },
  'member:write': { scope: 'team', role: 'maintainer' },
  'team:settings': { scope: 'team', role: 'maintainer' },
  'region:read': { scope: 'user' },
  'region:write': { scope: 'admin' },
  'bridge:read': { scope: 'user' },
  'bridge:write': { scope: 'admin' },
  'bridge:protocol': { scope: 'bridge' },
  'alert:read': { scope: 'team', role: 'viewer' },
  'channel:read': { scope: 'team', role: 'viewer' },
  'channel:write': { scope: 'team', role: 'maintainer' },
  'queue:read': { scope: 'user' },
  'user:admin': { scope: 'admin' },
  'vault:meta': { scope: 'user' },
  'vault:admin': { scope: 'admin' },
  'vault:list': { scope: 'team', role: 'viewer' },
  'vault:read': { scope: 'team', role: 'operator' },
  'vault:write': { scope: 'team', role: 'maintainer' },
  'audit:read': { scope: 'admin' },
  // Scraping GET /metrics: admins, and metrics tokens (an admin's token narrowed to this alone).
  'metrics:read': { scope: 'admin' },
  'metrics:admin': { scope: 'admin' },
} as const satisfies Record<string, Rule>;

export type Permission = keyof typeof PERMISSIONS;

export type Principal =
  | {
      kind: 'user';
      userId: number;
      email: string;
      isAdmin: boolean;
      tokenName: string;
      teams: ReadonlyMap<string, TeamRole>;
      /** 'metrics': the token may only read metrics, whatever its owner may do. */
      scope?: TokenScope | null;
    }
  | { kind: 'bridge'; bridge: string; region: string; tokenName: string };

const RANK: Record<TeamRole, number> = { viewer: 1, operator: 2, maintainer: 3 };

export function roleAtLeast(role: TeamRole | undefined, needed: TeamRole): boolean {
  return role !== undefined && RANK[role] >= RANK[needed];
}

/**
 * The coarse check at the door: whether `principal` may call a route with
 * this permission at all. Team rules pass here for members of any team; the
 * route then checks the role in the object's own team (`requireTeam`).
 */
export function allows(principal: Principal, permission: Permission): boolean {
  const rule: Rule = PERMISSIONS[permission];
  if (rule.scope === 'public') return true;
  // A metrics token holds metrics:read and nothing else, whatever its owner may do.
  if (principal.kind === 'user' && principal.scope === 'metrics' && permission !== 'metrics:read')
    return false;
  if (principal.kind === 'bridge') return rule.scope === 'bridge';
  if (rule.scope === 'bridge') return false;
  if (principal.isAdmin) return true;
  if (rule.scope === 'user') return true;
  if (rule.scope === 'admin') return false;
  // Team rules: members of any team pass the door; the route checks the object's
  // own team, so another team's object answers 404 whatever the caller's roles.
  return principal.teams.size > 0;
}

/** The fine check for one team: 'ok', 'forbidden' (a member without the role) or 'hidden' (not a member). */
export function teamAccess(
  principal: Principal,
  team: string,
  needed: TeamRole,
): 'ok' | 'forbidden' | 'hidden' {
  if (principal.kind !== 'user') return 'hidden';
  if (principal.isAdmin) return 'ok';
  const role = principal.teams.get(team);
  if (role === undefined) return 'hidden';
  return roleAtLeast(role, needed) ? 'ok' : 'forbidden';
}

/** Teams whose objects a principal may see (null: all of them). */
export function visibleTeams(principal: Principal): ReadonlySet<string> | null {
  if (principal.kind !== 'user') return new Set();
  return principal.isAdmin ? null : new Set(principal.teams.keys());
}

export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && Object.hasOwn(PERMISSIONS, value);
}
