import { scryptAsync } from '@noble/hashes/scrypt.js';

/**
 * The vault's cryptography in the browser, byte for byte what the CLI and the
 * bridge do (src/vault/crypto.ts): scrypt (from @noble/hashes: WebCrypto has
 * none) turns the master password into a key-encryption key; AES-256-GCM
 * with a random 96-bit IV seals team keys and values, each bound by its
 * additional data to what it is. The password, the keys and the values never
 * leave this page; keys are held as non-extractable CryptoKeys.
 */

export interface Kdf {
  alg: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
}

export class VaultCryptoError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'VaultCryptoError';
  }
}

/** A WebCrypto AES key (spelt so that both the DOM's and Node's typings name it). */
export type AesKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const KEY_BYTES = 32;
const IV_BYTES = 12;
const VERIFIER_TEXT = 'rediacc vault verifier v1';
/** Most bytes in one vault value (as the CLI). */
export const MAX_SECRET_BYTES = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i += 1) out[i] = s.charCodeAt(i);
  return out;
}

export function parseKdf(text: string): Kdf {
  let k: Kdf;
  try {
    k = JSON.parse(text) as Kdf;
  } catch {
    throw new VaultCryptoError('VAULT_KDF_INVALID', 'unsupported vault key derivation settings');
  }
  if (
    k.alg !== 'scrypt' ||
    !Number.isInteger(k.N) ||
    k.N < 2 ** 14 ||
    k.N > 2 ** 20 ||
    !Number.isInteger(k.r) ||
    !Number.isInteger(k.p) ||
    typeof k.salt !== 'string'
  ) {
    throw new VaultCryptoError('VAULT_KDF_INVALID', 'unsupported vault key derivation settings');
  }
  return k;
}

async function aesKey(raw: Uint8Array<ArrayBuffer>): Promise<AesKey> {
  return crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** The key-encryption key of a master password (slow on purpose; reports progress 0…1). */
export async function deriveKek(
  masterPassword: string,
  kdf: Kdf,
  onProgress?: (done: number) => void,
): Promise<AesKey> {
  const raw = await scryptAsync(encoder.encode(masterPassword.normalize('NFKC')), fromBase64(kdf.salt), {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    dkLen: KEY_BYTES,
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  const bytes = new Uint8Array(raw);
  const key = await aesKey(bytes);
  raw.fill(0);
  bytes.fill(0);
  return key;
}

async function seal(key: AesKey, plaintext: Uint8Array<ArrayBuffer>, aad: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(aad), tagLength: 128 },
      key,
      plaintext,
    ),
  );
  return JSON.stringify({ v: 1, iv: toBase64(iv), ct: toBase64(ct) });
}

async function open(key: AesKey, sealed: string, aad: string): Promise<Uint8Array | null> {
  try {
    const s = JSON.parse(sealed) as { v: number; iv: string; ct: string };
    if (s.v !== 1) return null;
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: fromBase64(s.iv), additionalData: encoder.encode(aad), tagLength: 128 },
      key,
      fromBase64(s.ct),
    );
    return new Uint8Array(plain);
  } catch {
    return null;
  }
}

export function makeVerifier(kek: AesKey): Promise<string> {
  return seal(kek, encoder.encode(VERIFIER_TEXT), 'rediacc:verifier');
}

export async function checkVerifier(kek: AesKey, verifier: string): Promise<boolean> {
  const text = await open(kek, verifier, 'rediacc:verifier');
  return text !== null && decoder.decode(text) === VERIFIER_TEXT;
}

/** A new random team data key: its raw bytes (to wrap once) and the key to use. */
export async function newTeamKey(): Promise<{ raw: Uint8Array<ArrayBuffer>; key: AesKey }> {
  const raw = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  return { raw, key: await aesKey(raw) };
}

export function wrapTeamKey(kek: AesKey, team: string, raw: Uint8Array<ArrayBuffer>): Promise<string> {
  return seal(kek, raw, `rediacc:team-key:${team}`);
}

export async function unwrapTeamKey(kek: AesKey, team: string, wrapped: string): Promise<AesKey> {
  const raw = await open(kek, wrapped, `rediacc:team-key:${team}`);
  if (raw === null || raw.length !== KEY_BYTES) {
    throw new VaultCryptoError(
      'VAULT_WRONG_MASTER_PASSWORD',
      `cannot open the vault key of team '${team}': wrong master password`,
    );
  }
  const bytes = new Uint8Array(raw);
  const key = await aesKey(bytes);
  raw.fill(0);
  bytes.fill(0);
  return key;
}

const secretAad = (team: string, name: string, version: number) =>
  `rediacc:secret:${team}:${name}:${version}`;

export async function encryptSecret(
  dataKey: AesKey,
  team: string,
  name: string,
  version: number,
  value: string,
): Promise<string> {
  const bytes = encoder.encode(value);
  if (bytes.length > MAX_SECRET_BYTES) {
    throw new VaultCryptoError(
      'VAULT_VALUE_TOO_LARGE',
      `a vault value holds at most ${MAX_SECRET_BYTES} bytes (got ${bytes.length})`,
    );
  }
  return seal(dataKey, bytes, secretAad(team, name, version));
}

export async function decryptSecret(
  dataKey: AesKey,
  team: string,
  name: string,
  version: number,
  sealed: string,
): Promise<string> {
  const bytes = await open(dataKey, sealed, secretAad(team, name, version));
  if (bytes === null) {
    throw new VaultCryptoError(
      'VAULT_DECRYPT_FAILED',
      `cannot decrypt '${name}' (version ${version}) of team '${team}'`,
    );
  }
  // As the CLI (Buffer.toString): a value is UTF-8 text.
  return decoder.decode(bytes);
}

/**
 * The open vault of this page: the key-encryption key (checked against the
 * verifier) and the team keys it unwrapped. Forget it to lock the vault.
 */
export class BrowserKeyring {
  private readonly teamKeys = new Map<string, AesKey>();

  private constructor(
    readonly kdfText: string,
    private readonly kek: AesKey,
  ) {}

  /** Derives the key of `password` and checks it opens this vault; throws VAULT_WRONG_MASTER_PASSWORD. */
  static async unlock(
    master: { kdf: string; verifier: string },
    password: string,
    onProgress?: (done: number) => void,
  ): Promise<BrowserKeyring> {
    const kek = await deriveKek(password, parseKdf(master.kdf), onProgress);
    if (!(await checkVerifier(kek, master.verifier))) {
      throw new VaultCryptoError(
        'VAULT_WRONG_MASTER_PASSWORD',
        'wrong master password: it does not open this vault',
      );
    }
    return new BrowserKeyring(master.kdf, kek);
  }

  async teamKey(team: string, wrapped: string): Promise<AesKey> {
    const cacheKey = `${team}|${wrapped}`;
    let key = this.teamKeys.get(cacheKey);
    if (key === undefined) {
      key = await unwrapTeamKey(this.kek, team, wrapped);
      this.teamKeys.set(cacheKey, key);
    }
    return key;
  }

  /** A new team key, wrapped for the server (a maintainer's first value in a team). */
  async newWrappedTeamKey(team: string): Promise<{ wrapped: string; key: AesKey }> {
    const { raw, key } = await newTeamKey();
    const wrapped = await wrapTeamKey(this.kek, team, raw);
    raw.fill(0);
    this.teamKeys.set(`${team}|${wrapped}`, key);
    return { wrapped, key };
  }
}
