import { ApiError } from './api';
import { opsApi } from './ops-api';
import { type AesKey, BrowserKeyring, decryptSecret, encryptSecret } from './vault-crypto';

/**
 * Reading and writing vault values from the browser: ciphertext goes to and
 * comes from the API; encryption and decryption happen here, with the keys
 * of an unlocked BrowserKeyring. Nothing secret is ever sent.
 */

/** Vault key names: letters, digits and . _ / - (the server's VAULT_KEY_PATTERN). */
export const VAULT_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;

export function checkKeyName(name: string): string | null {
  if (!VAULT_KEY_PATTERN.test(name) || name.includes('..'))
    return 'a key name is letters, digits and . _ / - (at most 128, no "..")';
  return null;
}

/** Fetches the master settings and opens the vault with the password; the password stays here. */
export async function unlockVault(
  password: string,
  onProgress?: (done: number) => void,
): Promise<BrowserKeyring> {
  const master = await opsApi.vaultMaster();
  return BrowserKeyring.unlock(master, password, onProgress);
}

/** The team's data key; with `create`, made here and stored wrapped when the team has none yet. */
export async function teamDataKey(ring: BrowserKeyring, team: string, create: boolean): Promise<AesKey> {
  try {
    const { wrapped } = await opsApi.teamKey(team);
    return await ring.teamKey(team, wrapped);
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 'TEAM_KEY_NOT_FOUND' || !create) throw err;
    const made = await ring.newWrappedTeamKey(team);
    try {
      await opsApi.createTeamKey(team, made.wrapped);
      return made.key;
    } catch (again) {
      // Another maintainer made it first: use theirs.
      if (again instanceof ApiError && again.status === 409) return teamDataKey(ring, team, false);
      throw again;
    }
  }
}

/** Decrypts a value here; the read is audited by the server. */
export async function revealValue(
  ring: BrowserKeyring,
  team: string,
  key: string,
): Promise<{ value: string; version: number }> {
  const [secret, dataKey] = await Promise.all([opsApi.vaultGet(team, key), teamDataKey(ring, team, false)]);
  return {
    value: await decryptSecret(dataKey, team, secret.name, secret.version, secret.ciphertext),
    version: secret.version,
  };
}

/** Encrypts a value here and stores it as the next version of `key` (a new key: version 1). */
export async function storeValue(
  ring: BrowserKeyring,
  team: string,
  key: string,
  value: string,
): Promise<{ name: string; version: number }> {
  const current = (await opsApi.vaultList(team)).find((s) => s.name === key)?.version ?? 0;
  const dataKey = await teamDataKey(ring, team, true);
  const ciphertext = await encryptSecret(dataKey, team, key, current + 1, value);
  return opsApi.vaultPut(team, key, ciphertext, current);
}
