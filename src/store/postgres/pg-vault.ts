import { conflict, notFound } from '../../core/errors.js';
import type { SecretRecord, VaultMaster, VaultStore } from '../store.js';
import { LOCK_SPACE, LOCKS, type PgDb, type Q } from './pg-connection.js';

async function teamId(q: Q, team: string): Promise<number> {
  const t = await q.one<{ id: number }>('SELECT id FROM teams WHERE name = $1', [team]);
  if (t === undefined) throw notFound('TEAM_NOT_FOUND', `team '${team}' does not exist`);
  return t.id;
}

/** Ciphertext only. Changes of the set of team keys take the vault's advisory lock, so they come one at a time. */
export class PgVault implements VaultStore {
  constructor(private readonly db: PgDb) {}

  async getMaster(): Promise<VaultMaster | null> {
    return (await this.db.one<VaultMaster>('SELECT kdf, verifier FROM vault_master WHERE id = 1')) ?? null;
  }

  async initMaster(master: VaultMaster, now: number): Promise<void> {
    const n = await this.db.run(
      'INSERT INTO vault_master (id, kdf, verifier, updated_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING',
      [master.kdf, master.verifier, now],
    );
    if (n === 0)
      throw conflict('VAULT_ALREADY_INITIALISED', 'the vault is set up already; use vault change-master');
  }

  async changeMaster(
    master: VaultMaster,
    teamKeys: { team: string; wrapped: string }[],
    now: number,
  ): Promise<void> {
    await this.db.tx(async (q) => {
      await q.run('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_SPACE, LOCKS.vault]);
      const current = (
        await q.rows<{ name: string }>(
          'SELECT t.name FROM vault_team_keys k JOIN teams t ON t.id = k.team_id',
        )
      ).map((r) => r.name);
      const given = new Set(teamKeys.map((k) => k.team));
      const missing = current.filter((t) => !given.has(t));
      if (missing.length > 0 || given.size !== current.length || given.size !== teamKeys.length) {
        throw conflict(
          'VAULT_KEYS_CHANGED',
          `re-wrapped keys must cover exactly the teams with keys (${current.join(', ')})`,
        );
      }
      const n = await q.run('UPDATE vault_master SET kdf = $1, verifier = $2, updated_at = $3 WHERE id = 1', [
        master.kdf,
        master.verifier,
        now,
      ]);
      if (n === 0) throw conflict('VAULT_NOT_INITIALISED', 'the vault is not set up; run vault init');
      for (const k of teamKeys) {
        await q.run('UPDATE vault_team_keys SET wrapped = $1, updated_at = $2 WHERE team_id = $3', [
          k.wrapped,
          now,
          await teamId(q, k.team),
        ]);
      }
    });
  }

  listTeamKeys(): Promise<{ team: string; wrapped: string }[]> {
    return this.db.rows(
      'SELECT t.name AS team, k.wrapped FROM vault_team_keys k JOIN teams t ON t.id = k.team_id ORDER BY t.name',
    );
  }

  async getTeamKey(team: string): Promise<string | null> {
    return this.db.tx(async (q) => {
      const id = await teamId(q, team);
      return (
        (await q.one<{ wrapped: string }>('SELECT wrapped FROM vault_team_keys WHERE team_id = $1', [id]))
          ?.wrapped ?? null
      );
    });
  }

  async createTeamKey(team: string, wrapped: string, now: number): Promise<void> {
    await this.db.tx(async (q) => {
      // A master change re-wraps every key it sees: a key added meanwhile would stay under the old master.
      await q.run('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_SPACE, LOCKS.vault]);
      const n = await q.run(
        `INSERT INTO vault_team_keys (team_id, wrapped, created_at, updated_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (team_id) DO NOTHING`,
        [await teamId(q, team), wrapped, now],
      );
      if (n === 0) throw conflict('TEAM_KEY_EXISTS', `team '${team}' has a vault key already`);
    });
  }

  async listSecrets(team: string): Promise<Omit<SecretRecord, 'ciphertext'>[]> {
    return this.db.tx(async (q) =>
      q.rows<Omit<SecretRecord, 'ciphertext'>>(
        `SELECT name, version, updated_by AS "updatedBy", updated_at AS "updatedAt" FROM vault_secrets
         WHERE team_id = $1 ORDER BY name`,
        [await teamId(q, team)],
      ),
    );
  }

  async getSecret(team: string, name: string): Promise<SecretRecord | null> {
    return this.db.tx(
      async (q) =>
        (await q.one<SecretRecord>(
          `SELECT name, version, ciphertext, updated_by AS "updatedBy", updated_at AS "updatedAt"
           FROM vault_secrets WHERE team_id = $1 AND name = $2`,
          [await teamId(q, team), name],
        )) ?? null,
    );
  }

  /** Compare-and-set in one statement: of two writers of the same version, one wins and one conflicts. */
  async putSecret(
    team: string,
    name: string,
    ciphertext: string,
    expectedVersion: number,
    by: string,
    now: number,
  ): Promise<number> {
    return this.db.tx(async (q) => {
      const id = await teamId(q, team);
      const written =
        expectedVersion === 0
          ? await q.run(
              `INSERT INTO vault_secrets (team_id, name, version, ciphertext, updated_by, updated_at)
               VALUES ($1, $2, 1, $3, $4, $5) ON CONFLICT (team_id, name) DO NOTHING`,
              [id, name, ciphertext, by, now],
            )
          : await q.run(
              `UPDATE vault_secrets SET version = version + 1, ciphertext = $3, updated_by = $4, updated_at = $5
               WHERE team_id = $1 AND name = $2 AND version = $6`,
              [id, name, ciphertext, by, now, expectedVersion],
            );
      if (written === 0) {
        const cur = await q.one<{ version: number }>(
          'SELECT version FROM vault_secrets WHERE team_id = $1 AND name = $2',
          [id, name],
        );
        throw conflict(
          'VAULT_VERSION_CONFLICT',
          `'${name}' is at version ${cur?.version ?? 0}, not ${expectedVersion}; read it again and retry`,
        );
      }
      return expectedVersion + 1;
    });
  }

  async deleteSecret(team: string, name: string): Promise<void> {
    await this.db.tx(async (q) => {
      const n = await q.run('DELETE FROM vault_secrets WHERE team_id = $1 AND name = $2', [
        await teamId(q, team),
        name,
      ]);
      if (n === 0) throw notFound('VAULT_KEY_NOT_FOUND', `team '${team}' has no vault key '${name}'`);
    });
  }
}
