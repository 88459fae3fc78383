import { AppError } from '../core/errors.js';
import { checkVerifier, decryptSecret, deriveKek, parseKdf, unwrapTeamKey } from './crypto.js';

/**
 * A client's open keys: the key derived from the master password (per key
 * derivation settings) and the team data keys it unwrapped, cached so the
 * slow derivation runs once.
 */
export class Keyring {
  private readonly keks = new Map<string, Buffer>();
  private readonly teamKeys = new Map<string, Buffer>();

  constructor(private readonly masterPassword: string) {}

  kek(kdfText: string): Buffer {
    let kek = this.keks.get(kdfText);
    if (kek === undefined) {
      kek = deriveKek(this.masterPassword, parseKdf(kdfText));
      this.keks.set(kdfText, kek);
    }
    return kek;
  }

  /** Throws VAULT_WRONG_MASTER_PASSWORD unless the password opens the verifier. */
  check(master: { kdf: string; verifier: string }): Buffer {
    const kek = this.kek(master.kdf);
    if (!checkVerifier(kek, master.verifier)) {
      throw new AppError(
        'VAULT_WRONG_MASTER_PASSWORD',
        'wrong master password: it does not open this vault',
        400,
      );
    }
    return kek;
  }

  teamKey(kdfText: string, team: string, wrapped: string): Buffer {
    const cacheKey = `${kdfText}|${team}|${wrapped}`;
    let key = this.teamKeys.get(cacheKey);
    if (key === undefined) {
      key = unwrapTeamKey(this.kek(kdfText), team, wrapped);
      this.teamKeys.set(cacheKey, key);
    }
    return key;
  }

  decrypt(
    vault: { kdf: string; teamKey: string },
    team: string,
    name: string,
    version: number,
    ciphertext: string,
  ): string {
    return decryptSecret(this.teamKey(vault.kdf, team, vault.teamKey), team, name, version, ciphertext);
  }
}
