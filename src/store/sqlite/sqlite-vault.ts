import { conflict, notFound } from '../../core/errors.js';
import type { SecretRecord, VaultMaster, VaultStore } from '../store.js';
import type { Statements } from './connection.js';

export class SqliteVault implements VaultStore {
  constructor(private readonly st: Statements) {}

  private teamId(team: string): number {
    const t = this.st.get('SELECT id FROM teams WHERE name = ?').get(team) as { id: number } | undefined;
    if (t === undefined) throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
    return t.id;
  }

  async getMaster(): Promise<VaultMaster | null> {
    return (
      (this.st.get('SELECT kdf, verifier FROM vault_master WHERE id = 1').get() as VaultMaster | undefined) ??
      null
    );
  }

  async initMaster(master: VaultMaster, now: number): Promise<void> {
    const r = this.st
      .get(
        'INSERT INTO vault_master (id, kdf, verifier, updated_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
      )
      .run(master.kdf, master.verifier, now);
    if (r.changes === 0)
      throw conflict('VAULT_ALREADY_INITIALISED', 'the vault is set up already; use vault change-master');
  }

  async changeMaster(
    master: VaultMaster,
    teamKeys: { team: string; wrapped: string }[],
    now: number,
  ): Promise<void> {
    this.st.db
      .transaction(() => {
        const current = (
          this.st.get('SELECT t.name FROM vault_team_keys k JOIN teams t ON t.id = k.team_id').all() as {
            name: string;
          }[]
        ).map((r) => r.name);
        const given = new Set(teamKeys.map((k) => k.team));
        const missing = current.filter((t) => !given.has(t));
        if (missing.length > 0 || given.size !== current.length || given.size !== teamKeys.length) {
          throw conflict(
            'VAULT_KEYS_CHANGED',
            `re-wrapped keys must cover exactly the teams with keys (${current.join(', ')})`,
          );
        }
        const r = this.st
          .get('UPDATE vault_master SET kdf = ?, verifier = ?, updated_at = ? WHERE id = 1')
          .run(master.kdf, master.verifier, now);
        if (r.changes === 0)
          throw conflict('VAULT_NOT_INITIALISED', 'the vault is not set up; run vault init');
        const update = this.st.get(
          'UPDATE vault_team_keys SET wrapped = ?, updated_at = ? WHERE team_id = ?',
        );
        for (const k of teamKeys) update.run(k.wrapped, now, this.teamId(k.team));
      })
      .immediate();
  }

  async listTeamKeys(): Promise<{ team: string; wrapped: string }[]> {
    return this.st
      .get(
        'SELECT t.name AS team, k.wrapped FROM vault_team_keys k JOIN teams t ON t.id = k.team_id ORDER BY t.name',
      )
      .all() as { team: string; wrapped: string }[];
  }

  async getTeamKey(team: string): Promise<string | null> {
    const r = this.st.get('SELECT wrapped FROM vault_team_keys WHERE team_id = ?').get(this.teamId(team)) as
      | { wrapped: string }
      | undefined;
    return r?.wrapped ?? null;
  }

  async createTeamKey(team: string, wrapped: string, now: number): Promise<void> {
    const r = this.st
      .get(
        `INSERT INTO vault_team_keys (team_id, wrapped, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (team_id) DO NOTHING`,
      )
      .run(this.teamId(team), wrapped, now, now);
    if (r.changes === 0) throw conflict('TEAM_KEY_EXISTS', `team '${team}' has a vault key already`);
  }

  async listSecrets(team: string): Promise<Omit<SecretRecord, 'ciphertext'>[]> {
    return this.st
      .get(
        `SELECT name, version, updated_by AS updatedBy, updated_at AS updatedAt FROM vault_secrets
         WHERE team_id = ? ORDER BY name`,
      )
      .all(this.teamId(team)) as Omit<SecretRecord, 'ciphertext'>[];
  }

  async getSecret(team: string, name: string): Promise<SecretRecord | null> {
    return (
      (this.st
        .get(
          `SELECT name, version, ciphertext, updated_by AS updatedBy, updated_at AS updatedAt FROM vault_secrets
           WHERE team_id = ? AND name = ?`,
        )
        .get(this.teamId(team), name) as SecretRecord | undefined) ?? null
    );
  }

  async putSecret(
    team: string,
    name: string,
    ciphertext: string,
    expectedVersion: number,
    by: string,
    now: number,
  ): Promise<number> {
    const teamId = this.teamId(team);
    return this.st.db
      .transaction(() => {
        const cur = this.st
          .get('SELECT version FROM vault_secrets WHERE team_id = ? AND name = ?')
          .get(teamId, name) as { version: number } | undefined;
        const have = cur?.version ?? 0;
        if (have !== expectedVersion) {
          throw conflict(
            'VAULT_VERSION_CONFLICT',
            `'${name}' is at version ${have}, not ${expectedVersion}; read it again and retry`,
          );
        }
        const version = have + 1;
        this.st
          .get(
            `INSERT INTO vault_secrets (team_id, name, version, ciphertext, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (team_id, name) DO UPDATE SET version = excluded.version, ciphertext = excluded.ciphertext,
             updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
          )
          .run(teamId, name, version, ciphertext, by, now);
        return version;
      })
      .immediate();
  }

  async deleteSecret(team: string, name: string): Promise<void> {
    const r = this.st
      .get('DELETE FROM vault_secrets WHERE team_id = ? AND name = ?')
      .run(this.teamId(team), name);
    if (r.changes === 0) throw notFound('VAULT_KEY_NOT_FOUND', `team '${team}' has no vault key '${name}'`);
  }
}
