import { notFound } from '../../core/errors.js';
import type { IdentityStore, TeamRole, TokenScope, TokenSummary, UserAuth, UserSummary } from '../store.js';
import type { PgDb, Q } from './pg-connection.js';

interface UserRow {
  id: number;
  email: string;
  is_admin: boolean;
  disabled: boolean;
  password_hash: string | null;
  setup_token_hash: string | null;
  setup_expires_at: number | null;
  created_at: number;
}

export class PgIdentity implements IdentityStore {
  constructor(private readonly db: PgDb) {}

  async getUserAuth(email: string): Promise<UserAuth | null> {
    const r = await this.db.one<UserRow>('SELECT * FROM users WHERE email = $1', [email]);
    if (r === undefined) return null;
    return {
      id: r.id,
      email: r.email,
      isAdmin: r.is_admin,
      createdAt: r.created_at,
      disabled: r.disabled,
      passwordHash: r.password_hash,
      setupTokenHash: r.setup_token_hash,
      setupExpiresAt: r.setup_expires_at,
    };
  }

  async setPassword(userId: number, passwordHash: string): Promise<void> {
    await this.db.run(
      'UPDATE users SET password_hash = $1, setup_token_hash = NULL, setup_expires_at = NULL WHERE id = $2',
      [passwordHash, userId],
    );
  }

  async setSetupToken(userId: number, hash: string | null, expiresAt: number | null): Promise<void> {
    await this.db.run('UPDATE users SET setup_token_hash = $1, setup_expires_at = $2 WHERE id = $3', [
      hash,
      expiresAt,
      userId,
    ]);
  }

  async listUsers(): Promise<UserSummary[]> {
    return this.db.tx((q) => listUsers(q));
  }

  async updateUser(email: string, patch: { disabled?: boolean; isAdmin?: boolean }): Promise<UserSummary> {
    return this.db.tx(async (q) => {
      const n = await q.run(
        'UPDATE users SET disabled = COALESCE($1, disabled), is_admin = COALESCE($2, is_admin) WHERE email = $3',
        [patch.disabled ?? null, patch.isAdmin ?? null, email],
      );
      if (n === 0) throw notFound('USER_NOT_FOUND', `user '${email}' does not exist`);
      return (await listUsers(q)).find((u) => u.email === email) as UserSummary;
    });
  }

  async listTokens(userId: number): Promise<TokenSummary[]> {
    const rows = await this.db.rows<{
      id: number;
      name: string;
      kind: 'user';
      created_at: number;
      expires_at: number | null;
      revoked_at: number | null;
      scope: TokenScope | null;
    }>(
      'SELECT id, name, kind, created_at, expires_at, revoked_at, scope FROM tokens WHERE user_id = $1 ORDER BY id',
      [userId],
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      kind: r.kind,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
      scope: r.scope,
    }));
  }

  async revokeToken(userId: number, idOrName: string, now: number): Promise<boolean> {
    const byId = /^\d{1,15}$/.test(idOrName) ? Number(idOrName) : -1;
    const n = await this.db.run(
      'UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND (id = $3 OR name = $4)',
      [now, userId, byId, idOrName],
    );
    return n > 0;
  }

  async revokeBridgeTokens(bridgeName: string, now: number): Promise<void> {
    await this.db.run(
      `UPDATE tokens SET revoked_at = $1 WHERE revoked_at IS NULL
       AND bridge_id = (SELECT id FROM bridges WHERE name = $2)`,
      [now, bridgeName],
    );
  }

  async membershipsOf(userId: number): Promise<Map<string, TeamRole>> {
    const rows = await this.db.rows<{ name: string; role: TeamRole }>(
      'SELECT t.name, tm.role FROM team_members tm JOIN teams t ON t.id = tm.team_id WHERE tm.user_id = $1',
      [userId],
    );
    return new Map(rows.map((r) => [r.name, r.role]));
  }

  async addMember(team: string, email: string, role: TeamRole, now: number): Promise<void> {
    await this.db.tx(async (q) => {
      const ids = await idsOf(q, team, email);
      await q.run(
        `INSERT INTO team_members (team_id, user_id, role, added_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role`,
        [ids.teamId, ids.userId, role, now],
      );
    });
  }

  async removeMember(team: string, email: string): Promise<void> {
    await this.db.tx(async (q) => {
      const ids = await idsOf(q, team, email);
      const n = await q.run('DELETE FROM team_members WHERE team_id = $1 AND user_id = $2', [
        ids.teamId,
        ids.userId,
      ]);
      if (n === 0) throw notFound('MEMBER_NOT_FOUND', `'${email}' is not a member of team '${team}'`);
    });
  }

  async listMembers(team: string): Promise<{ email: string; role: TeamRole; addedAt: number }[]> {
    return this.db.rows(
      `SELECT u.email, tm.role, tm.added_at AS "addedAt" FROM team_members tm JOIN users u ON u.id = tm.user_id
       JOIN teams t ON t.id = tm.team_id WHERE t.name = $1 ORDER BY u.email`,
      [team],
    );
  }
}

async function listUsers(q: Q): Promise<UserSummary[]> {
  const users = await q.rows<UserRow>('SELECT * FROM users ORDER BY email');
  const members = await q.rows<{ user_id: number; name: string; role: TeamRole }>(
    'SELECT tm.user_id, t.name, tm.role FROM team_members tm JOIN teams t ON t.id = tm.team_id ORDER BY t.name',
  );
  return users.map((u) => ({
    id: u.id,
    email: u.email,
    isAdmin: u.is_admin,
    createdAt: u.created_at,
    disabled: u.disabled,
    hasPassword: u.password_hash !== null,
    teams: members.filter((m) => m.user_id === u.id).map((m) => ({ team: m.name, role: m.role })),
  }));
}

async function idsOf(q: Q, team: string, email: string): Promise<{ teamId: number; userId: number }> {
  const t = await q.one<{ id: number }>('SELECT id FROM teams WHERE name = $1', [team]);
  if (t === undefined) throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
  const u = await q.one<{ id: number }>('SELECT id FROM users WHERE email = $1', [email]);
  if (u === undefined) throw notFound('USER_NOT_FOUND', `user '${email}' does not exist`);
  return { teamId: t.id, userId: u.id };
}
