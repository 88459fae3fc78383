import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { loginFilePath } from '../config.js';
import { contextOf, type Verbs } from '../context.js';
import { usage } from '../errors.js';
import { age, printFields, printJson, printTable } from '../output.js';
import { promptHidden, readStdin } from '../prompt.js';

const ROLES = ['maintainer', 'operator', 'viewer'];

async function password(fromStdin: boolean | undefined, question: string): Promise<string> {
  return fromStdin === true ? readStdin() : promptHidden(question);
}

/** `30d`, `12h`, `90` (days) → days. */
export function parseExpiry(text: string): number {
  const m = /^(\d{1,5})([dhw]?)$/.exec(text.trim());
  if (m === null) throw usage(`--expires takes a duration like 30d, 2w or 12h, got '${text}'`, '--expires');
  const n = Number(m[1]);
  const days = m[2] === 'w' ? n * 7 : m[2] === 'h' ? n / 24 : n;
  if (days < 1 || days > 3650) throw usage('--expires must be between 1 day and 10 years', '--expires');
  return Math.ceil(days);
}

export function registerIdentityCommands(v: Verbs): void {
  v.program
    .command('login')
    .description(
      'log in with email and password; saves the URL and a new token in the login file (mode 0600)',
    )
    .requiredOption('--email <email>', 'your account')
    .option('--password-stdin', 'read the password from standard input')
    .option('--setup-token <token>', 'first login: set your password with the setup token you were given')
    .action(async (flags: { email: string; passwordStdin?: boolean; setupToken?: string }, cmd: Command) => {
      const { client, format, url } = {
        ...contextOf(cmd),
        url: (cmd.optsWithGlobals() as { url?: string }).url,
      };
      const pw = await password(
        flags.passwordStdin,
        flags.setupToken === undefined ? 'Password: ' : 'New password: ',
      );
      if (flags.setupToken !== undefined) {
        await client.post('/auth/setup', { email: flags.email, setupToken: flags.setupToken, password: pw });
      }
      const res = await client.post<{ token: string; expiresAt: string | null }>('/auth/login', {
        email: flags.email,
        password: pw,
      });
      const file = loginFilePath();
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const serverUrl = url ?? process.env.REDIACC_URL ?? client.baseUrl;
      writeFileSync(
        file,
        `${JSON.stringify({ url: serverUrl, token: res.token, email: flags.email }, null, 2)}\n`,
        { mode: 0o600 },
      );
      chmodSync(file, 0o600);
      if (format === 'json')
        return printJson({ email: flags.email, url: serverUrl, expiresAt: res.expiresAt, file });
      process.stdout.write(
        `logged in as ${flags.email} at ${serverUrl}; token saved to ${file} (expires ${res.expiresAt})\n`,
      );
    });

  v.create
    .command('user <email>')
    .description('create a user; without --password-stdin it prints a one-time setup token')
    .option('--admin', 'organisation admin')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (email: string, flags: { admin?: boolean; passwordStdin?: boolean }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const body: Record<string, unknown> = { email, admin: flags.admin === true };
      if (flags.passwordStdin === true) body.password = readStdin();
      const res = await client.post<{ email: string; admin: boolean; setupToken?: string }>('/users', body);
      if (format === 'json') return printJson(res);
      process.stdout.write(`created user ${res.email}${res.admin ? ' (admin)' : ''}\n`);
      if (res.setupToken !== undefined) {
        process.stdout.write(
          `setup token (shown once, valid 7 days): ${res.setupToken}\nthey run: rediacc login --url <server url> --email ${res.email} --setup-token <token>\n`,
        );
      }
    });

  v.list
    .command('users')
    .alias('user')
    .description('list users with their teams and roles')
    .action(async (_f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const users =
        await client.get<
          {
            email: string;
            admin: boolean;
            disabled: boolean;
            hasPassword: boolean;
            teams: { team: string; role: string }[];
            createdAt: string;
          }[]
        >('/users');
      if (format === 'json') return printJson(users);
      printTable(
        ['EMAIL', 'ADMIN', 'DISABLED', 'PASSWORD', 'TEAMS', 'CREATED'],
        users.map((u) => [
          u.email,
          u.admin ? 'yes' : 'no',
          u.disabled ? 'yes' : 'no',
          u.hasPassword ? 'set' : 'pending',
          u.teams.map((t) => `${t.team}:${t.role}`).join(','),
          age(u.createdAt),
        ]),
      );
    });

  v.update
    .command('user <email>')
    .description('disable or enable a user, or change admin rights')
    .option('--disable')
    .option('--enable')
    .option('--admin')
    .option('--no-admin')
    .action(
      async (
        email: string,
        flags: { disable?: boolean; enable?: boolean; admin?: boolean },
        cmd: Command,
      ) => {
        const { client, format } = contextOf(cmd);
        if (flags.disable === true && flags.enable === true)
          throw usage('give --disable or --enable, not both');
        const body: Record<string, boolean> = {};
        if (flags.disable === true) body.disabled = true;
        if (flags.enable === true) body.disabled = false;
        if (flags.admin !== undefined) body.admin = flags.admin;
        if (Object.keys(body).length === 0)
          throw usage('nothing to change: give --disable, --enable, --admin or --no-admin');
        const u = await client.request<Record<string, unknown>>(
          'PATCH',
          `/users/${encodeURIComponent(email)}`,
          body,
        );
        if (format === 'json') return printJson(u);
        printFields(Object.entries(u));
      },
    );

  const token = v.program.command('token').description('your API tokens');
  token
    .command('create')
    .description('create an API token (shown once)')
    .requiredOption('--name <name>', 'what it is for')
    .option('--expires <duration>', 'e.g. 30d, 2w, 12h (default: never)')
    .action(async (flags: { name: string; expires?: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const res = await client.post<{ token: string; name: string; expiresAt: string | null }>('/tokens', {
        name: flags.name,
        ...(flags.expires === undefined ? {} : { expiresInDays: parseExpiry(flags.expires) }),
      });
      if (format === 'json') return printJson(res);
      process.stdout.write(
        `token ${res.name} (shown once, expires ${res.expiresAt ?? 'never'}):\n${res.token}\n`,
      );
    });
  token
    .command('list')
    .description('your tokens (never their values)')
    .action(async (_f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const list =
        await client.get<
          {
            id: number;
            name: string;
            createdAt: string;
            expiresAt: string | null;
            revokedAt: string | null;
            scope?: string | null;
          }[]
        >('/tokens');
      if (format === 'json') return printJson(list);
      printTable(
        ['ID', 'NAME', 'SCOPE', 'CREATED', 'EXPIRES', 'REVOKED'],
        list.map((t) => [t.id, t.name, t.scope ?? 'all', t.createdAt, t.expiresAt ?? 'never', t.revokedAt]),
      );
    });
  token
    .command('revoke <idOrName>')
    .description('revoke one of your tokens')
    .action(async (id: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await client.request('DELETE', `/tokens/${encodeURIComponent(id)}`);
      if (format === 'json') return printJson({ revoked: id });
      process.stdout.write(`revoked token ${id}\n`);
    });

  const team = v.program.command('team').description('team membership');
  team
    .command('add-member <team> <email>')
    .description('add a member (or change their role)')
    .requiredOption('--role <role>', ROLES.join('|'))
    .action(async (name: string, email: string, flags: { role: string }, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      if (!ROLES.includes(flags.role))
        throw usage(`--role must be one of ${ROLES.join(', ')}, got '${flags.role}'`, '--role');
      const res = await client.post<{ team: string; email: string; role: string }>(
        `/teams/${encodeURIComponent(name)}/members`,
        { email, role: flags.role },
      );
      if (format === 'json') return printJson(res);
      process.stdout.write(`${res.email} is ${res.role} in team ${res.team}\n`);
    });
  team
    .command('remove-member <team> <email>')
    .description('remove a member')
    .action(async (name: string, email: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      await client.request(
        'DELETE',
        `/teams/${encodeURIComponent(name)}/members/${encodeURIComponent(email)}`,
      );
      if (format === 'json') return printJson({ team: name, email, removed: true });
      process.stdout.write(`removed ${email} from team ${name}\n`);
    });
  team
    .command('members <team>')
    .description('list a team’s members and roles')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const list = await client.get<{ email: string; role: string; addedAt: string }[]>(
        `/teams/${encodeURIComponent(name)}/members`,
      );
      if (format === 'json') return printJson(list);
      printTable(
        ['EMAIL', 'ROLE', 'ADDED'],
        list.map((m) => [m.email, m.role, age(m.addedAt)]),
      );
    });
}

/** `rediacc bridge reset-token NAME` lives under the bridge daemon command. */
export function registerBridgeAdmin(bridge: Command): void {
  bridge
    .command('reset-token <name>')
    .description('revoke a bridge’s tokens and print a new one (shown once)')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const res = await client.post<{ name: string; region: string; token: string }>(
        `/bridges/${encodeURIComponent(name)}/reset-token`,
      );
      if (format === 'json') return printJson(res);
      process.stdout.write(
        `new token for bridge ${res.name} (region ${res.region}, shown once):\n${res.token}\n`,
      );
    });
}
