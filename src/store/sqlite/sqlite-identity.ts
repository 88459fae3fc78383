import { notFound } from '../../core/errors.js';
import type { IdentityStore, TeamRole, TokenScope, TokenSummary, UserAuth, UserSummary } from '../store.js';
import type { Statements } from './connection.js';

interface UserRow {
  id: number;
  email: string;
  is_admin: number;
  disabled: number;
  password_hash: string | null;
  setup_token_hash: string | null;
  setup_expires_at: number | null;
  created_at: number;
}

export class SqliteIdentity implements IdentityStore {
  constructor(private readonly st: Statements) {}

  async getUserAuth(email: string): Promise<UserAuth | null> {
    const r = this.st.get('SELECT * FROM users WHERE email = ?').get(email) as UserRow | undefined;
    if (r === undefined) return null;
    return {
      id: r.id,
      email: r.email,
      isAdmin: r.is_admin === 1,
      createdAt: r.created_at,
      disabled: r.disabled === 1,
      passwordHash: r.password_hash,
      setupTokenHash: r.setup_token_hash,
      setupExpiresAt: r.setup_expires_at,
    };
  }

  async setPassword(userId: number, passwordHash: string): Promise<void> {
    this.st
      .get(
        'UPDATE users SET password_hash = ?, setup_token_hash = NULL, setup_expires_at = NULL WHERE id = ?',
      )
      .run(passwordHash, userId);
  }

  async setSetupToken(userId: number, hash: string | null, expiresAt: number | null): Promise<void> {
    this.st
      .get('UPDATE users SET setup_token_hash = ?, setup_expires_at = ? WHERE id = ?')
      .run(hash, expiresAt, userId);
  }

  async listUsers(): Promise<UserSummary[]> {
    const users = this.st.get('SELECT * FROM users ORDER BY email').all() as UserRow[];
    const members = this.st
      .get(
        'SELECT tm.user_id, t.name, tm.role FROM team_members tm JOIN teams t ON t.id = tm.team_id ORDER BY t.name',
      )
      .all() as { user_id: number; name: string; role: TeamRole }[];
    return users.map((u) => ({
      id: u.id,
      email: u.email,
      isAdmin: u.is_admin === 1,
      createdAt: u.created_at,
      disabled: u.disabled === 1,
      hasPassword: u.password_hash !== null,
      teams: members.filter((m) => m.user_id === u.id).map((m) => ({ team: m.name, role: m.role })),
    }));
  }

  async updateUser(email: string, patch: { disabled?: boolean; isAdmin?: boolean }): Promise<UserSummary> {
    const r = this.st
      .get(
        'UPDATE users SET disabled = COALESCE(?, disabled), is_admin = COALESCE(?, is_admin) WHERE email = ?',
      )
      .run(
        patch.disabled === undefined ? null : Number(patch.disabled),
        patch.isAdmin === undefined ? null : Number(patch.isAdmin),
        email,
      );
    if (r.changes === 0) throw notFound('USER_NOT_FOUND', `user '${email}' does not exist`);
    return (await this.listUsers()).find((u) => u.email === email) as UserSummary;
  }

  async listTokens(userId: number): Promise<TokenSummary[]> {
    const rows = this.st
      .get(
        `SELECT id, name, kind, created_at, expires_at, revoked_at, scope FROM tokens WHERE user_id = ? ORDER BY id`,
      )
      .all(userId) as {
      id: number;
      name: string;
      kind: 'user';
      created_at: number;
      expires_at: number | null;
      revoked_at: number | null;
      scope: TokenScope | null;
    }[];
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
    const byId = /^\d+$/.test(idOrName) ? Number(idOrName) : -1;
    const r = this.st
      .get(
        `UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND (id = ? OR name = ?)`,
      )
      .run(now, userId, byId, idOrName);
    return r.changes > 0;
  }

  async revokeBridgeTokens(bridgeName: string, now: number): Promise<void> {
    this.st
      .get(
        `UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL
         AND bridge_id = (SELECT id FROM bridges WHERE name = ?)`,
      )
      .run(now, bridgeName);
  }

  async membershipsOf(userId: number): Promise<Map<string, TeamRole>> {
    const rows = this.st
      .get(
        'SELECT t.name, tm.role FROM team_members tm JOIN teams t ON t.id = tm.team_id WHERE tm.user_id = ?',
      )
      .all(userId) as { name: string; role: TeamRole }[];
    return new Map(rows.map((r) => [r.name, r.role]));
  }

  async addMember(team: string, email: string, role: TeamRole, now: number): Promise<void> {
    const ids = this.ids(team, email);
    this.st
      .get(
        `INSERT INTO team_members (team_id, user_id, role, added_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role`,
      )
      .run(ids.teamId, ids.userId, role, now);
  }

  async removeMember(team: string, email: string): Promise<void> {
    const ids = this.ids(team, email);
    const r = this.st
      .get('DELETE FROM team_members WHERE team_id = ? AND user_id = ?')
      .run(ids.teamId, ids.userId);
    if (r.changes === 0) throw notFound('MEMBER_NOT_FOUND', `'${email}' is not a member of team '${team}'`);
  }

  async listMembers(team: string): Promise<{ email: string; role: TeamRole; addedAt: number }[]> {
    return this.st
      .get(
        `SELECT u.email, tm.role, tm.added_at AS addedAt FROM team_members tm JOIN users u ON u.id = tm.user_id
         JOIN teams t ON t.id = tm.team_id WHERE t.name = ? ORDER BY u.email`,
      )
      .all(team) as { email: string; role: TeamRole; addedAt: number }[];
  }

  private ids(team: string, email: string): { teamId: number; userId: number } {
    const t = this.st.get('SELECT id FROM teams WHERE name = ?').get(team) as { id: number } | undefined;
    if (t === undefined) throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
    const u = this.st.get('SELECT id FROM users WHERE email = ?').get(email) as { id: number } | undefined;
    if (u === undefined) throw notFound('USER_NOT_FOUND', `user '${email}' does not exist`);
    return { teamId: t.id, userId: u.id };
  }
}
