// SSH key files for the fleet: ed25519 (fast to generate, one key type for host and client keys).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  privateKeyFile: string;
  /** OpenSSH private key text (-----BEGIN OPENSSH PRIVATE KEY-----), no passphrase. */
  privateKey: string;
  /** One line "ssh-ed25519 AAAA… comment", without the trailing newline. */
  publicKey: string;
  /** "SHA256:…", the same text `ssh-keygen -lf` prints. */
  fingerprint: string;
}

/**
 * The SHA256 fingerprint of a public key line, computed like ssh-keygen does (SHA-256 of the
 * decoded key blob, base64 without padding), so no extra process is spawned per key.
 */
export function fingerprintOf(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (blob === undefined) throw new Error(`not an OpenSSH public key line: ${publicKeyLine}`);
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** Writes a new key pair at `file` and `file`.pub (replacing any), private file mode 0600. */
export async function generateKey(file: string, comment: string): Promise<KeyPair> {
  // ssh-keygen asks "Overwrite (y/n)?" for an existing file; remove first to keep it non-interactive.
  await Promise.all([rm(file, { force: true }), rm(`${file}.pub`, { force: true })]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  const [privateKey, publicText] = await Promise.all([
    readFile(file, 'utf8'),
    readFile(`${file}.pub`, 'utf8'),
  ]);
  const publicKey = publicText.trim();
  return { privateKeyFile: file, privateKey, publicKey, fingerprint: fingerprintOf(publicKey) };
}
