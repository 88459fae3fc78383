import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { CliError } from './errors.js';

export const QUICK_START_URL = 'http://127.0.0.1:7400';
export const QUICK_START_TOKEN_FILE = join('.rediacc', 'admin-token');

export interface ClientSettings {
  url: string;
  token: string | null;
  /** Where the values came from, for error messages. */
  source: string;
}

/** The file `rediacc login` writes (mode 0600). */
export function loginFilePath(): string {
  const base = process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  return join(base, 'rediacc', 'config.json');
}

/**
 * Where the CLI finds its server: flags, else REDIACC_URL/REDIACC_TOKEN,
 * else the login file, else the quick start (127.0.0.1:7400 and the token
 * file in ./.rediacc).
 */
export function resolveClient(flags: { url?: string; token?: string }): ClientSettings {
  const env = process.env;
  const file = readLoginFile();
  const url = flags.url ?? env.REDIACC_URL ?? file?.url ?? QUICK_START_URL;
  let token = flags.token ?? env.REDIACC_TOKEN ?? file?.token ?? null;
  let source =
    flags.token !== undefined ? '--token' : env.REDIACC_TOKEN !== undefined ? 'REDIACC_TOKEN' : 'login file';
  if (token === null) {
    const quick = resolve(env.REDIACC_DATA_DIR ?? '.rediacc', 'admin-token');
    if (existsSync(quick)) {
      token = readFileSync(quick, 'utf8').trim();
      source = quick;
    } else {
      source = 'none';
    }
  }
  try {
    new URL(url);
  } catch {
    throw new CliError('USAGE', `not a valid server URL: '${url}'`);
  }
  return { url: url.replace(/\/+$/, ''), token, source };
}

function readLoginFile(): { url?: string; token?: string } | null {
  const path = loginFilePath();
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { url?: string; token?: string };
  } catch (err) {
    throw new CliError('CONFIG_INVALID', `cannot read ${path}: ${(err as Error).message}`, 1);
  }
}
