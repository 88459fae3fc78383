import { PERMISSIONS, type Permission, roleAtLeast } from '../../src/server/permissions';
import type { Me } from './types';

/**
 * Whether the signed-in user may do something: the server's own permission
 * table, so the dashboard offers exactly what the API allows. Without a team,
 * a team rule asks whether any of the user's teams allows it.
 */
export function can(me: Me | null, permission: Permission, team?: string): boolean {
  if (me === null) return false;
  const rule = PERMISSIONS[permission];
  switch (rule.scope) {
    case 'public':
      return true;
    case 'bridge':
      return false;
    case 'user':
      return true;
    case 'admin':
      return me.admin;
    case 'team': {
      if (me.admin) return true;
      const roles = me.teams.filter((t) => team === undefined || t.team === team);
      return roles.some((t) => roleAtLeast(t.role, rule.role));
    }
  }
}

/** Teams in which the user holds at least the role a permission needs (every team for admins: null). */
export function teamsAllowing(me: Me | null, permission: Permission): string[] | null {
  if (me === null) return [];
  if (me.admin) return null;
  const rule = PERMISSIONS[permission];
  if (rule.scope !== 'team') return can(me, permission) ? me.teams.map((t) => t.team) : [];
  return me.teams.filter((t) => roleAtLeast(t.role, rule.role)).map((t) => t.team);
}
