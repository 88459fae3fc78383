import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import ssh2 from 'ssh2';
import { Keyring } from '../../vault/keyring.js';
import type { ApiClient } from '../client.js';
import { contextOf } from '../context.js';
import { CliError, usage } from '../errors.js';
import { printJson, printTable } from '../output.js';
import { masterPassword } from '../prompt.js';
import type { ApiTask } from './follow.js';
import { followTask } from './follow.js';
import { storeVaultValue } from './vault.js';

interface Machine {
  name: string;
  team: string;
  region: string;
  transport: string;
  host: string | null;
  port: number | null;
  user: string | null;
  hostKey: string | null;
}

/** "ssh-ed25519 AAAA…" without the comment: what identifies a key in authorized_keys. */
function keyCore(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
const AK = '"$HOME/.ssh/authorized_keys"';
const addKey = (pub: string) =>
  `mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh" && touch ${AK} && chmod 600 ${AK} && ` +
  // A last line without its newline would swallow the new key into its comment.
  `{ [ ! -s ${AK} ] || [ -z "$(tail -c1 ${AK})" ] || echo >> ${AK}; } && ` +
  `(grep -qF ${quote(keyCore(pub))} ${AK} || printf '%s\\n' ${quote(pub)} >> ${AK})`;
const removeKey = (pub: string) =>
  `grep -vF ${quote(keyCore(pub))} ${AK} > ${AK}.rdc; cat ${AK}.rdc > ${AK} && rm -f ${AK}.rdc`;

/** Runs one step on a machine at priority 1 and waits for it. */
async function step(client: ApiClient, machine: string, command: string): Promise<ApiTask> {
  const t = await client.post<ApiTask>('/tasks', { machine, priority: 1, command });
  return followTask(client, t.taskId, null);
}

/**
 * Rotates a machine's SSH key without lock-out: add the new public key through
 * the current key, prove a login with the new key (through a short-lived
 * twin machine entry that uses it), remove the old key through the new one,
 * then store the new key in the vault. Any failure removes the new key again
 * and leaves the old one working.
 */
export async function rotateKey(
  client: ApiClient,
  name: string,
  masterFile: string | undefined,
): Promise<{ machine: string; fingerprint: string }> {
  const m = await client.get<Machine>(`/machines/${encodeURIComponent(name)}`);
  if (m.transport !== 'ssh' || m.host === null) throw usage(`machine ${name} is not an SSH machine`);
  const master = await client.get<{ kdf: string; verifier: string }>('/vault/master');
  const keyring = new Keyring(await masterPassword(masterFile));
  keyring.check(master);
  const keyPath = `/teams/${encodeURIComponent(m.team)}/vault/ssh/${encodeURIComponent(name)}`;
  const current = await client.get<{ name: string; version: number; ciphertext: string }>(keyPath);
  const { wrapped } = await client.get<{ wrapped: string }>(`/teams/${encodeURIComponent(m.team)}/vault-key`);
  const oldKey = ssh2.utils.parseKey(
    keyring.decrypt(
      { kdf: master.kdf, teamKey: wrapped },
      m.team,
      current.name,
      current.version,
      current.ciphertext,
    ),
  );
  if (oldKey instanceof Error || Array.isArray(oldKey))
    throw new CliError('KEY_INVALID', `the stored key of ${name} cannot be read`, 1);
  const oldPub = `${oldKey.type} ${oldKey.getPublicSSH().toString('base64')}`;
  const fresh = ssh2.utils.generateKeyPairSync('ed25519', {
    comment: `rediacc ${name} ${new Date().toISOString().slice(0, 10)}`,
  });
  const twin = `${name.slice(0, 50)}-rk-${randomBytes(3).toString('hex')}`;
  const fail = async (what: string, task: ApiTask | null, rollback: boolean) => {
    if (rollback) await step(client, name, removeKey(fresh.public)).catch(() => undefined);
    await client.request('DELETE', `/machines/${encodeURIComponent(twin)}`).catch(() => undefined);
    await client
      .request('DELETE', `/teams/${encodeURIComponent(m.team)}/vault/ssh/${encodeURIComponent(twin)}`)
      .catch(() => undefined);
    const why = task === null ? '' : ` (${task.reason ?? task.status})`;
    throw new CliError(
      'KEY_ROTATION_FAILED',
      `${name}: ${what}${why}; rolled back, the old key still works`,
      1,
    );
  };

  const added = await step(client, name, addKey(fresh.public));
  if (added.status !== 'completed') await fail('could not add the new public key', added, false);
  await storeVaultValue(client, m.team, `ssh/${twin}`, fresh.private, masterFile);
  await client.post('/machines', {
    name: twin,
    team: m.team,
    region: m.region,
    transport: 'ssh',
    host: m.host,
    port: m.port ?? 22,
    ...(m.user === null ? {} : { user: m.user }),
    ...(m.hostKey === null ? {} : { hostKey: m.hostKey }),
  });
  const proven = await step(client, twin, 'true');
  if (proven.status !== 'completed') await fail('no login with the new key', proven, true);
  const removed = await step(client, twin, removeKey(oldPub));
  if (removed.status !== 'completed')
    await fail('could not remove the old key with the new one', removed, true);
  await storeVaultValue(client, m.team, `ssh/${name}`, fresh.private, masterFile);
  await client.request('DELETE', `/machines/${encodeURIComponent(twin)}`).catch(() => undefined);
  await client
    .request('DELETE', `/teams/${encodeURIComponent(m.team)}/vault/ssh/${encodeURIComponent(twin)}`)
    .catch(() => undefined);
  const parsed = ssh2.utils.parseKey(fresh.public);
  const fingerprint =
    parsed instanceof Error || Array.isArray(parsed) ? '' : parsed.getPublicSSH().toString('base64');
  return {
    machine: name,
    fingerprint:
      keyCore(fresh.public).split(' ')[0] + (fingerprint === '' ? '' : ` …${fingerprint.slice(-12)}`),
  };
}

export function registerRotateKey(machine: Command): void {
  machine
    .command('rotate-key [name]')
    .description('replace a machine’s SSH key with a new ed25519 key, without lock-out (or --team T --all)')
    .option('--team <team>', 'with --all: the team whose SSH machines to rotate')
    .option('--all', 'every SSH machine of --team')
    .option(
      '--master-password-file <file>',
      'vault master password (else REDIACC_MASTER_PASSWORD or a prompt)',
    )
    .action(
      async (
        name: string | undefined,
        flags: { team?: string; all?: boolean; masterPasswordFile?: string },
        cmd: Command,
      ) => {
        const { client, format } = contextOf(cmd);
        if ((name === undefined) === (flags.all !== true))
          throw usage('give a machine name, or --team T --all');
        if (flags.all === true && flags.team === undefined) throw usage('--all needs --team');
        const names =
          name !== undefined
            ? [name]
            : (await client.get<Machine[]>(`/machines?team=${encodeURIComponent(flags.team as string)}`))
                .filter((m) => m.transport === 'ssh')
                .map((m) => m.name);
        const results: { machine: string; result: string }[] = [];
        let failed = 0;
        for (const n of names) {
          try {
            await rotateKey(client, n, flags.masterPasswordFile);
            results.push({ machine: n, result: 'rotated' });
          } catch (err) {
            failed += 1;
            results.push({ machine: n, result: (err as Error).message });
            if (names.length === 1) throw err;
          }
        }
        if (format === 'json') printJson(results);
        else
          printTable(
            ['MACHINE', 'RESULT'],
            results.map((r) => [r.machine, r.result]),
          );
        if (failed > 0) process.exitCode = 1;
      },
    );
}
