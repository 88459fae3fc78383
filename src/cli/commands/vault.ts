import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  checkVerifier,
  deriveKek,
  encryptSecret,
  MAX_SECRET_BYTES,
  makeVerifier,
  newKdf,
  newTeamKey,
  unwrapTeamKey,
  wrapTeamKey,
} from '../../vault/crypto.js';
import { Keyring } from '../../vault/keyring.js';
import type { ApiClient } from '../client.js';
import { contextOf } from '../context.js';
import { CliError, usage } from '../errors.js';
import { age, printJson, printTable } from '../output.js';
import { masterPassword, promptHidden, readSecretFile, readStdin } from '../prompt.js';

interface Master {
  kdf: string;
  verifier: string;
}

const path = (team: string, key?: string) =>
  `/teams/${encodeURIComponent(team)}/vault${key === undefined ? '' : `/${key.split('/').map(encodeURIComponent).join('/')}`}`;

/** The team's data key, opened with the master password; created (by a maintainer) when `create` and missing. */
export async function teamKey(
  client: ApiClient,
  keyring: Keyring,
  master: Master,
  team: string,
  create: boolean,
): Promise<Buffer> {
  try {
    const { wrapped } = await client.get<{ wrapped: string }>(`/teams/${encodeURIComponent(team)}/vault-key`);
    return keyring.teamKey(master.kdf, team, wrapped);
  } catch (err) {
    if (!(err instanceof CliError) || err.code !== 'TEAM_KEY_NOT_FOUND' || !create) throw err;
    const key = newTeamKey();
    await client.post(`/teams/${encodeURIComponent(team)}/vault-key`, {
      wrapped: wrapTeamKey(keyring.kek(master.kdf), team, key),
    });
    return key;
  }
}

export async function open(
  client: ApiClient,
  file: string | undefined,
): Promise<{ master: Master; keyring: Keyring }> {
  const master = await client.get<Master>('/vault/master');
  const keyring = new Keyring(await masterPassword(file));
  keyring.check(master);
  return { master, keyring };
}

async function newPassword(file: string | undefined): Promise<string> {
  if (file !== undefined) return readSecretFile(file, 'the new master password');
  const env = process.env.REDIACC_NEW_MASTER_PASSWORD;
  if (env !== undefined && env !== '') return env;
  const a = await promptHidden('New vault master password: ');
  const b = await promptHidden('Repeat it: ');
  if (a !== b) throw usage('the two passwords differ; nothing was changed');
  return a;
}

function checkNewPassword(pw: string): void {
  if (pw.length < 12) throw usage('a master password needs at least 12 characters; nothing was changed');
}

/** Encrypts a value here and stores it as the next version of `key` in the team's vault. */
export async function storeVaultValue(
  client: ApiClient,
  team: string,
  key: string,
  value: string,
  masterPasswordFile: string | undefined,
): Promise<{ name: string; version: number }> {
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) {
    throw new CliError(
      'VAULT_VALUE_TOO_LARGE',
      `a vault value holds at most ${MAX_SECRET_BYTES} bytes (got ${Buffer.byteLength(value)}); nothing was written`,
    );
  }
  const { master, keyring } = await open(client, masterPasswordFile);
  const list = await client.get<{ name: string; version: number }[]>(path(team));
  const current = list.find((s) => s.name === key)?.version ?? 0;
  const dataKey = await teamKey(client, keyring, master, team, true);
  const ciphertext = encryptSecret(dataKey, team, key, current + 1, value);
  return client.request<{ name: string; version: number }>('PUT', path(team, key), {
    ciphertext,
    expectedVersion: current,
  });
}

export function registerVaultCommands(program: Command): void {
  const vault = program
    .command('vault')
    .description('team vaults: values are encrypted and decrypted here, never on the server')
    .option(
      '--master-password-file <file>',
      'read the master password from a file (else REDIACC_MASTER_PASSWORD, ./.rediacc/master-password, or a prompt)',
    );
  const mpf = (cmd: Command) => (cmd.optsWithGlobals() as { masterPasswordFile?: string }).masterPasswordFile;

  vault
    .command('init')
    .description('set up the organisation’s vault with a master password (once, admin)')
    .action(async (_f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const file = mpf(cmd);
      const pw =
        file !== undefined || process.env.REDIACC_MASTER_PASSWORD
          ? await masterPassword(file)
          : await newPassword(undefined);
      checkNewPassword(pw);
      const kdf = newKdf();
      await client.post('/vault/master', {
        kdf: JSON.stringify(kdf),
        verifier: makeVerifier(deriveKek(pw, kdf)),
      });
      if (format === 'json') return printJson({ initialised: true });
      process.stdout.write('vault set up; keep the master password safe: it cannot be recovered\n');
    });

  vault
    .command('set <key>')
    .description('store a value (from a prompt, stdin or --from-file); it is encrypted before it is sent')
    .option('--team <team>', 'team (default: default)', 'default')
    .option('--from-file <file>', 'read the value from a file')
    .option('--stdin', 'read the value from standard input')
    .action(
      async (key: string, flags: { team: string; fromFile?: string; stdin?: boolean }, cmd: Command) => {
        const { client, format } = contextOf(cmd);
        const value =
          flags.fromFile !== undefined
            ? readFileSync(flags.fromFile, 'utf8')
            : flags.stdin === true || process.stdin.isTTY !== true
              ? readStdin()
              : await promptHidden(`Value for ${key}: `);
        const res = await storeVaultValue(client, flags.team, key, value, mpf(cmd));
        if (format === 'json') return printJson({ team: flags.team, ...res });
        process.stdout.write(`stored ${res.name} in team ${flags.team} (version ${res.version})\n`);
      },
    );

  vault
    .command('get <key>')
    .description('print a value (the read is audited)')
    .option('--team <team>', 'team (default: default)', 'default')
    .action(async (key: string, flags: { team: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const { master, keyring } = await open(client, mpf(cmd));
      const s = await client.get<{
        name: string;
        version: number;
        ciphertext: string;
        updatedBy: string;
        updatedAt: string;
      }>(path(flags.team, key));
      const { wrapped } = await client.get<{ wrapped: string }>(
        `/teams/${encodeURIComponent(flags.team)}/vault-key`,
      );
      const value = keyring.decrypt(
        { kdf: master.kdf, teamKey: wrapped },
        flags.team,
        s.name,
        s.version,
        s.ciphertext,
      );
      if (format === 'json')
        return printJson({
          team: flags.team,
          name: s.name,
          version: s.version,
          value,
          updatedBy: s.updatedBy,
          updatedAt: s.updatedAt,
        });
      process.stdout.write(value.endsWith('\n') ? value : `${value}\n`);
    });

  vault
    .command('list')
    .description('key names, versions, who changed them and when (never values)')
    .option('--team <team>', 'team (default: default)', 'default')
    .action(async (flags: { team: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const list = await client.get<
        { name: string; version: number; updatedBy: string; updatedAt: string }[]
      >(path(flags.team));
      if (format === 'json') return printJson(list);
      printTable(
        ['KEY', 'VERSION', 'UPDATED BY', 'UPDATED'],
        list.map((s) => [s.name, s.version, s.updatedBy, age(s.updatedAt)]),
      );
    });

  vault
    .command('delete <key>')
    .description('delete a value')
    .option('--team <team>', 'team (default: default)', 'default')
    .action(async (key: string, flags: { team: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await client.request('DELETE', path(flags.team, key));
      if (format === 'json') return printJson({ team: flags.team, name: key, deleted: true });
      process.stdout.write(`deleted ${key} from team ${flags.team}\n`);
    });

  vault
    .command('change-master')
    .description('re-wrap every team key with a new master password (admin); the old one stops working')
    .option(
      '--new-master-password-file <file>',
      'read the new password from a file (else REDIACC_NEW_MASTER_PASSWORD or a prompt)',
    )
    .action(async (flags: { newMasterPasswordFile?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const master = await client.get<Master>('/vault/master');
      const oldKek = deriveKek(
        await masterPassword(mpf(cmd), 'current master password'),
        JSON.parse(master.kdf),
      );
      if (!checkVerifier(oldKek, master.verifier)) {
        throw new CliError(
          'VAULT_WRONG_MASTER_PASSWORD',
          'wrong master password: it does not open this vault; nothing was changed',
        );
      }
      const pw = await newPassword(flags.newMasterPasswordFile);
      checkNewPassword(pw);
      const keys = await client.get<{ team: string; wrapped: string }[]>('/vault/team-keys');
      const kdf = newKdf();
      const newKek = deriveKek(pw, kdf);
      const teamKeys = keys.map((k) => ({
        team: k.team,
        wrapped: wrapTeamKey(newKek, k.team, unwrapTeamKey(oldKek, k.team, k.wrapped)),
      }));
      await client.request('PUT', '/vault/master', {
        kdf: JSON.stringify(kdf),
        verifier: makeVerifier(newKek),
        teamKeys,
      });
      if (format === 'json') return printJson({ changed: true, teams: teamKeys.length });
      process.stdout.write(
        `master password changed; ${teamKeys.length} team key(s) re-wrapped. Give bridges the new password.\n`,
      );
    });
}
