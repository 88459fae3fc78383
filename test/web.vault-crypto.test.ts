import { describe, expect, it } from 'vitest';
import {
  newKdf,
  checkVerifier as nodeCheckVerifier,
  decryptSecret as nodeDecrypt,
  deriveKek as nodeDeriveKek,
  encryptSecret as nodeEncrypt,
  makeVerifier as nodeMakeVerifier,
  newTeamKey as nodeNewTeamKey,
  unwrapTeamKey as nodeUnwrap,
  wrapTeamKey as nodeWrap,
} from '../src/vault/crypto.js';
import {
  BrowserKeyring,
  decryptSecret,
  deriveKek,
  encryptSecret,
  fromBase64,
  makeVerifier,
  parseKdf,
  toBase64,
} from '../web/src/vault-crypto.js';

// The dashboard's vault code (WebCrypto + @noble/hashes scrypt) against the
// CLI's (node:crypto): each opens what the other sealed, byte-compatible.

const PASSWORD = 'Ünïcode master pässword ﬁ 1'; // NFKC folds "ﬁ" to "fi" on both sides
const TEAM = 'default';

describe('browser vault cryptography, compatible with the CLI', () => {
  const kdf = { ...newKdf(), N: 2 ** 14 };
  const kdfText = JSON.stringify(kdf);

  it('derives the same key-encryption key as node:crypto scrypt', async () => {
    const nodeKek = nodeDeriveKek(PASSWORD, kdf);
    const browserKek = await deriveKek(PASSWORD, parseKdf(kdfText));
    // Each checks the other's verifier.
    expect(
      await await BrowserKeyring.unlock({ kdf: kdfText, verifier: nodeMakeVerifier(nodeKek) }, PASSWORD),
    ).toBeInstanceOf(BrowserKeyring);
    expect(nodeCheckVerifier(nodeKek, await makeVerifier(browserKek))).toBe(true);
    expect(nodeCheckVerifier(nodeDeriveKek('another password', kdf), await makeVerifier(browserKek))).toBe(
      false,
    );
    await expect(
      BrowserKeyring.unlock({ kdf: kdfText, verifier: nodeMakeVerifier(nodeKek) }, 'wrong password'),
    ).rejects.toMatchObject({ code: 'VAULT_WRONG_MASTER_PASSWORD' });
  });

  it('opens team keys and values the CLI sealed, and the CLI opens what the browser sealed', async () => {
    const nodeKek = nodeDeriveKek(PASSWORD, kdf);
    const master = { kdf: kdfText, verifier: nodeMakeVerifier(nodeKek) };
    const ring = await BrowserKeyring.unlock(master, PASSWORD);

    // CLI → browser.
    const dataKey = nodeNewTeamKey();
    const wrapped = nodeWrap(nodeKek, TEAM, dataKey);
    const value = 'pa$$wörd\nwith lines 🙂';
    const sealed = nodeEncrypt(dataKey, TEAM, 'db/password', 3, value);
    const key = await ring.teamKey(TEAM, wrapped);
    expect(await decryptSecret(key, TEAM, 'db/password', 3, sealed)).toBe(value);
    // Bound to team, name and version.
    await expect(decryptSecret(key, TEAM, 'db/password', 4, sealed)).rejects.toMatchObject({
      code: 'VAULT_DECRYPT_FAILED',
    });
    await expect(decryptSecret(key, 'other', 'db/password', 3, sealed)).rejects.toMatchObject({
      code: 'VAULT_DECRYPT_FAILED',
    });
    await expect(ring.teamKey('other', wrapped)).rejects.toMatchObject({
      code: 'VAULT_WRONG_MASTER_PASSWORD',
    });

    // Browser → CLI, with a team key the browser made.
    const made = await ring.newWrappedTeamKey('web-team');
    const nodeKey = nodeUnwrap(nodeKek, 'web-team', made.wrapped);
    expect(nodeKey).toHaveLength(32);
    const fromBrowser = await encryptSecret(made.key, 'web-team', 'api/token', 1, value);
    expect(nodeDecrypt(nodeKey, 'web-team', 'api/token', 1, fromBrowser)).toBe(value);
    expect(Object.keys(JSON.parse(fromBrowser))).toEqual(['v', 'iv', 'ct']);
    expect(fromBase64(JSON.parse(fromBrowser).iv)).toHaveLength(12);
    // A fresh IV each time.
    expect(await encryptSecret(made.key, 'web-team', 'api/token', 1, value)).not.toBe(fromBrowser);
  });

  it('refuses what the CLI refuses', async () => {
    expect(() => parseKdf(JSON.stringify({ ...kdf, N: 1024 }))).toThrow(/unsupported/);
    expect(() => parseKdf(JSON.stringify({ ...kdf, alg: 'pbkdf2' }))).toThrow(/unsupported/);
    expect(() => parseKdf('not json')).toThrow(/unsupported/);
    const ring = await BrowserKeyring.unlock(
      { kdf: kdfText, verifier: nodeMakeVerifier(nodeDeriveKek(PASSWORD, kdf)) },
      PASSWORD,
    );
    const { key } = await ring.newWrappedTeamKey(TEAM);
    await expect(encryptSecret(key, TEAM, 'big', 1, 'x'.repeat(64 * 1024 + 1))).rejects.toMatchObject({
      code: 'VAULT_VALUE_TOO_LARGE',
    });
  });

  it('encodes base64 like Buffer, for any byte and size', () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    expect([...fromBase64(Buffer.from(bytes).toString('base64'))]).toEqual([...bytes]);
  });
});
