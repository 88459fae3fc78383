import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { type ChannelInput, checkChannelInput, checkUrl } from '../../notify/channel-input.js';
import { encryptSecret } from '../../vault/crypto.js';
import type { ApiClient } from '../client.js';
import { contextOf, type Verbs } from '../context.js';
import { CliError, usage } from '../errors.js';
import { age, printFields, printJson, printTable, truncate } from '../output.js';
import { promptHidden, readSecretFile, readStdin } from '../prompt.js';
import { registerAlertRuleCommands } from './alert-rules.js';
import { parseCount } from './task-input.js';
import { open, teamKey } from './vault.js';

interface ApiChannel {
  team: string;
  name: string;
  type: string;
  url: string | null;
  smtp: { host: string; port: number; tls: string; user: string | null } | null;
  from: string | null;
  to: string[] | null;
  secretKeys: string[];
  createdBy: string | null;
  createdAt: string;
}

interface CreateFlags {
  team: string;
  type?: string;
  webhookUrl?: string;
  urlFile?: string;
  urlStdin?: boolean;
  secretFile?: string;
  secretStdin?: boolean;
  smtpHost?: string;
  smtpPort?: string;
  smtpTls?: string;
  smtpUser?: string;
  smtpPasswordFile?: string;
  smtpPasswordStdin?: boolean;
  from?: string;
  to?: string;
  masterPasswordFile?: string;
}

const teamPath = (team: string, rest = '') => `/teams/${encodeURIComponent(team)}${rest}`;

/** The API body without secrets, checked here so that bad input writes nothing anywhere. */
function channelBody(name: string, f: CreateFlags): { body: Record<string, unknown>; secretNames: string[] } {
  if (f.type === undefined) throw usage('give --type webhook, slack or email', '--type');
  const body: Record<string, unknown> = { name, type: f.type };
  const urlFrom = [f.webhookUrl, f.urlFile, f.urlStdin].filter((x) => x !== undefined).length;
  if (f.type !== 'slack' && (f.urlFile !== undefined || f.urlStdin !== undefined)) {
    throw usage('--url-file and --url-stdin are for a slack channel (its URL is a secret)', '--url-file');
  }
  if (f.type === 'slack') {
    if (urlFrom === 0)
      throw usage(
        'a slack channel needs its incoming-webhook URL: --url-file, --url-stdin (or --webhook-url)',
        '--url-file',
      );
    if (urlFrom > 1)
      throw usage('give the Slack URL once: --url-file, --url-stdin or --webhook-url', '--url-file');
    if (f.webhookUrl !== undefined) checkUrl(f.webhookUrl, '--url');
  } else if (f.webhookUrl !== undefined) {
    body.url = checkUrl(f.webhookUrl, '--url');
  } else if (f.type === 'webhook') {
    throw usage('a webhook channel needs --url (http:// or https://)', '--url');
  }
  if (f.smtpHost !== undefined || f.type === 'email') {
    body.smtp = {
      host: f.smtpHost ?? '',
      port: f.smtpPort === undefined ? 587 : parseCount(f.smtpPort, '--smtp-port', 65_535),
      tls: f.smtpTls ?? 'starttls',
      user: f.smtpUser ?? null,
    };
    if (f.smtpHost === undefined) throw usage('an email channel needs --smtp-host', '--smtp-host');
  }
  if (f.from !== undefined) body.from = f.from;
  if (f.to !== undefined)
    body.to = f.to
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const secretNames =
    f.type === 'webhook' ? ['secret'] : f.type === 'slack' ? ['url'] : f.smtpUser ? ['password'] : [];
  checkChannelInput({ ...(body as unknown as ChannelInput), secretNames });
  return { body, secretNames };
}

async function secretValue(name: string, f: CreateFlags): Promise<string> {
  if (name === 'url') {
    // The Slack URL is the credential: from a file or stdin it stays out of process lists and shell history.
    if (f.webhookUrl !== undefined) return f.webhookUrl;
    const url = (
      f.urlFile !== undefined ? readSecretFile(f.urlFile, 'the Slack webhook URL') : readStdin()
    ).trim();
    if (!/^https?:\/\/[^\s]+$/i.test(url) || !URL.canParse(url)) {
      throw usage(
        'the Slack webhook URL must be an http:// or https:// URL',
        f.urlFile ? '--url-file' : '--url-stdin',
      );
    }
    return url;
  }
  if (name === 'secret') {
    if (f.secretFile !== undefined) return readSecretFile(f.secretFile, 'the signing secret');
    if (f.secretStdin === true) return readStdin();
    return randomBytes(32).toString('base64url');
  }
  if (f.smtpPasswordFile !== undefined) return readSecretFile(f.smtpPasswordFile, 'the SMTP password');
  if (f.smtpPasswordStdin === true) return readStdin();
  if (process.stdin.isTTY !== true) {
    throw usage(
      '--smtp-user needs the password: --smtp-password-file or --smtp-password-stdin',
      '--smtp-user',
    );
  }
  return promptHidden(`SMTP password for ${f.smtpUser}: `);
}

/** Encrypts each value here for the vault key `channel/NAME/KEY`, at the version that follows the current one. */
async function sealSecrets(
  client: ApiClient,
  team: string,
  channel: string,
  f: CreateFlags,
  names: string[],
) {
  if (names.length === 0) return [];
  const values = new Map<string, string>();
  for (const n of names) {
    const v = await secretValue(n, f);
    if (v === '') throw usage(`the ${n === 'secret' ? 'signing secret' : n} must not be empty`);
    values.set(n, v);
  }
  const list = await client.get<{ name: string; version: number }[]>(teamPath(team, '/vault'));
  const { master, keyring } = await open(client, f.masterPasswordFile);
  const dataKey = await teamKey(client, keyring, master, team, true);
  return names.map((n) => {
    const key = `channel/${channel}/${n}`;
    const current = list.find((s) => s.name === key)?.version ?? 0;
    return {
      key: n,
      ciphertext: encryptSecret(dataKey, team, key, current + 1, values.get(n) as string),
      expectedVersion: current,
    };
  });
}

function target(c: ApiChannel): string {
  if (c.type === 'webhook') return c.url ?? '';
  if (c.type === 'slack') return `(URL in vault: ${c.secretKeys[0]})`;
  const s = c.smtp;
  return s === null
    ? ''
    : `${s.user === null ? '' : `${s.user}@`}${s.host}:${s.port} (${s.tls}) → ${(c.to ?? []).join(',')}`;
}

/** One line per alert's deliveries for `list alerts`: "hooks sent; mail retrying ×3: HTTP 500". */
export function deliverySummary(a: {
  deliveries?: { channel: string; status: string; attempts: number; lastError: string | null }[];
  deliveryNote?: string | null;
}): string | null {
  const ds = a.deliveries ?? [];
  if (ds.length === 0) {
    const note = a.deliveryNote ?? null;
    return note === null ? null : note.replace(/^not sent: /, '');
  }
  return ds
    .map((d) => {
      const times = d.attempts > 1 || d.status !== 'sent' ? ` ×${d.attempts}` : '';
      const err = d.status !== 'sent' && d.lastError !== null ? `: ${truncate(d.lastError, 32)}` : '';
      return `${d.channel} ${d.status}${times}${err}`;
    })
    .join('; ');
}

export function registerChannelCommands(v: Verbs): void {
  v.create
    .command('channel <name>')
    .description('a notification channel for a team: webhook (signed JSON), slack or email (SMTP)')
    .option('--team <team>', 'team (default: default)', 'default')
    .option('--type <type>', 'webhook, slack or email')
    .option(
      '--url, --webhook-url <url>',
      'webhook: where the signed JSON goes; slack: the incoming-webhook URL (kept in the vault; prefer --url-file, a URL here shows in process lists); the server URL then goes before the command (rediacc --url S create channel …) or in REDIACC_URL',
    )
    .option('--url-file <file>', 'slack: the incoming-webhook URL from a file (kept out of process lists)')
    .option('--url-stdin', 'slack: the incoming-webhook URL from standard input')
    .option('--secret-file <file>', 'webhook: the signing secret from a file (default: a random one)')
    .option('--secret-stdin', 'webhook: the signing secret from standard input')
    .option('--smtp-host <host>', 'email: SMTP server')
    .option('--smtp-port <port>', 'email: SMTP port (default 587)')
    .option('--smtp-tls <mode>', 'email: none, starttls (default) or tls')
    .option('--smtp-user <user>', 'email: SMTP login; its password goes into the vault')
    .option('--smtp-password-file <file>', 'email: the SMTP password from a file')
    .option('--smtp-password-stdin', 'email: the SMTP password from standard input')
    .option('--from <address>', 'email: sender address')
    .option('--to <a,b,…>', 'email: recipients')
    .option(
      '--master-password-file <file>',
      'vault master password (else REDIACC_MASTER_PASSWORD or a prompt)',
    )
    .action(async (name: string, flags: CreateFlags, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const { body, secretNames } = channelBody(name, flags);
      const secrets = await sealSecrets(client, flags.team, name, flags, secretNames);
      const c = await client.post<ApiChannel>(teamPath(flags.team, '/channels'), { ...body, secrets });
      if (format === 'json') return printJson(c);
      const lines = [`created channel ${c.name} (${c.type}, team ${c.team}): ${target(c)}`];
      if (c.type === 'webhook') {
        lines.push(
          `signing secret: in the vault as ${c.secretKeys[0]} (read it: rediacc vault get ${c.secretKeys[0]} --team ${c.team})`,
        );
      }
      lines.push(`try it: rediacc channel test ${c.name} --team ${c.team}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  v.list
    .command('channels')
    .alias('channel')
    .description('notification channels (never their secrets)')
    .option('--team <team>')
    .action(async (flags: { team?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const q = flags.team === undefined ? '' : `?team=${encodeURIComponent(flags.team)}`;
      const list = await client.get<ApiChannel[]>(`/channels${q}`);
      if (format === 'json') return printJson(list);
      printTable(
        ['TEAM', 'NAME', 'TYPE', 'CREATED', 'TARGET'],
        list.map((c) => [c.team, c.name, c.type, age(c.createdAt), target(c)]),
      );
    });

  v.delete
    .command('channel <name>')
    .description('delete a channel and its vault values; its unsent notifications fail')
    .option('--team <team>', 'team (default: default)', 'default')
    .action(async (name: string, flags: { team: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await client.request('DELETE', teamPath(flags.team, `/channels/${encodeURIComponent(name)}`));
      if (format === 'json') return printJson({ team: flags.team, name, deleted: true });
      process.stdout.write(`deleted channel ${name} of team ${flags.team}\n`);
    });

  const channel = v.program.command('channel').description('notification channel operations');
  channel
    .command('test <name>')
    .description('send a test notification through the channel now and report how it went')
    .option('--team <team>', 'team (default: default)', 'default')
    .action(async (name: string, flags: { team: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const r = await client.post<{
        channel: string;
        type: string;
        ok: boolean;
        deliveryId: string;
        durationMs: number;
        error: string | null;
        code: string | null;
      }>(teamPath(flags.team, `/channels/${encodeURIComponent(name)}/test`));
      if (format === 'json') printJson(r);
      else {
        printFields([
          ['channel', `${r.channel} (${r.type})`],
          ['result', r.ok ? 'delivered' : `failed: ${r.error}`],
          ['delivery', r.deliveryId],
          ['took', `${r.durationMs} ms`],
        ]);
      }
      if (!r.ok) throw new CliError(r.code ?? 'CHANNEL_TEST_FAILED', `channel ${name} failed the test`, 1);
    });

  registerAlertRuleCommands(v);
}
