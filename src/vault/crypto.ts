import { createCipheriv, createDecipheriv, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { AppError } from '../core/errors.js';

/**
 * Client-side vault cryptography (CLI and bridge; the browser does the same
 * with WebCrypto). AES-256-GCM with a random 96-bit IV; each ciphertext is
 * bound by its additional data to what it is (team key of team T, value of
 * key K version V of team T), so a ciphertext moved elsewhere fails to open.
 * Team data keys are random and wrapped by a key derived with scrypt from the
 * organisation's master password, which never leaves the client.
 */

export interface Kdf {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
}

interface Sealed {
  v: 1;
  iv: string;
  ct: string;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERIFIER_TEXT = 'rediacc vault verifier v1';
/** Most bytes in one vault value. */
export const MAX_SECRET_BYTES = 64 * 1024;

export function newKdf(): Kdf {
  return { alg: 'scrypt', N: 2 ** 15, r: 8, p: 1, salt: randomBytes(16).toString('base64') };
}

export function parseKdf(text: string): Kdf {
  const k = JSON.parse(text) as Kdf;
  if (k.alg !== 'scrypt' || !Number.isInteger(k.N) || k.N < 2 ** 14 || k.N > 2 ** 20) {
    throw new AppError('VAULT_KDF_INVALID', 'unsupported vault key derivation settings', 400);
  }
  return k;
}

/** The key-encryption key of a master password (slow on purpose: ~0.1 s). */
export function deriveKek(masterPassword: string, kdf: Kdf): Buffer {
  return scryptSync(masterPassword.normalize('NFKC'), Buffer.from(kdf.salt, 'base64'), KEY_BYTES, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r,
  });
}

function seal(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return JSON.stringify({ v: 1, iv: iv.toString('base64'), ct: ct.toString('base64') } satisfies Sealed);
}

function open(key: Buffer, sealed: string, aad: string): Buffer | null {
  try {
    const s = JSON.parse(sealed) as Sealed;
    const raw = Buffer.from(s.ct, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(s.iv, 'base64'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(0, raw.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

export function makeVerifier(kek: Buffer): string {
  return seal(kek, Buffer.from(VERIFIER_TEXT), 'rediacc:verifier');
}

export function checkVerifier(kek: Buffer, verifier: string): boolean {
  const text = open(kek, verifier, 'rediacc:verifier');
  return (
    text !== null && text.length === VERIFIER_TEXT.length && timingSafeEqual(text, Buffer.from(VERIFIER_TEXT))
  );
}

export function newTeamKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function wrapTeamKey(kek: Buffer, team: string, dataKey: Buffer): string {
  return seal(kek, dataKey, `rediacc:team-key:${team}`);
}

export function unwrapTeamKey(kek: Buffer, team: string, wrapped: string): Buffer {
  const key = open(kek, wrapped, `rediacc:team-key:${team}`);
  if (key === null || key.length !== KEY_BYTES) {
    throw new AppError(
      'VAULT_WRONG_MASTER_PASSWORD',
      `cannot open the vault key of team '${team}': wrong master password`,
      400,
    );
  }
  return key;
}

const secretAad = (team: string, name: string, version: number) =>
  `rediacc:secret:${team}:${name}:${version}`;

export function encryptSecret(
  dataKey: Buffer,
  team: string,
  name: string,
  version: number,
  value: string,
): string {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > MAX_SECRET_BYTES) {
    throw new AppError(
      'VAULT_VALUE_TOO_LARGE',
      `a vault value holds at most ${MAX_SECRET_BYTES} bytes (got ${bytes.length})`,
      400,
    );
  }
  return seal(dataKey, bytes, secretAad(team, name, version));
}

export function decryptSecret(
  dataKey: Buffer,
  team: string,
  name: string,
  version: number,
  sealed: string,
): string {
  const bytes = open(dataKey, sealed, secretAad(team, name, version));
  if (bytes === null) {
    throw new AppError(
      'VAULT_DECRYPT_FAILED',
      `cannot decrypt '${name}' (version ${version}) of team '${team}'`,
      400,
    );
  }
  return bytes.toString('utf8');
}
