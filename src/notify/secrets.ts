import { isAppError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { Keyring } from '../vault/keyring.js';
import { DeliveryError } from './senders.js';

/**
 * Opens a channel's vault values on the server. The vault is encrypted on the
 * client; the server reads it only with the master password it was started
 * with (REDIACC_MASTER_PASSWORD, --master-password-file, or the quick start's
 * file). Without one, or with a wrong one, every delivery that needs a secret
 * fails with an error that says so.
 */
export class ChannelSecrets {
  private readonly keyring: Keyring | null;

  constructor(
    private readonly store: Store,
    masterPassword: string | undefined,
  ) {
    this.keyring = masterPassword === undefined || masterPassword === '' ? null : new Keyring(masterPassword);
  }

  async read(team: string, key: string): Promise<string> {
    if (this.keyring === null) {
      throw new DeliveryError(
        `cannot read vault key ${key}: the server was started without the vault master password ` +
          '(set REDIACC_MASTER_PASSWORD or --master-password-file on the server)',
        false,
        'NOTIFY_NO_MASTER_PASSWORD',
      );
    }
    const [master, wrapped, secret] = await Promise.all([
      this.store.vault.getMaster(),
      this.store.vault.getTeamKey(team),
      this.store.vault.getSecret(team, key),
    ]);
    if (master === null || wrapped === null) {
      throw new DeliveryError(`team ${team} has no vault key yet`, false, 'NOTIFY_SECRET_MISSING');
    }
    if (secret === null) {
      throw new DeliveryError(
        `vault key ${key} of team ${team} is missing (set it: rediacc vault set ${key} --team ${team})`,
        false,
        'NOTIFY_SECRET_MISSING',
      );
    }
    try {
      this.keyring.check(master);
      return this.keyring.decrypt(
        { kdf: master.kdf, teamKey: wrapped },
        team,
        secret.name,
        secret.version,
        secret.ciphertext,
      );
    } catch (err) {
      if (!isAppError(err)) throw err;
      throw new DeliveryError(
        `cannot decrypt vault key ${key} of team ${team}: ${err.message} (is the server's master password current?)`,
        false,
        'NOTIFY_SECRET_UNREADABLE',
      );
    }
  }
}
