import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, freePort, rediacc, stop, waitForHealth } from '../helpers/cli.js';
import { type Received, signatureValid, startReceiver, startSmtp } from '../helpers/notify.js';
import { waitFor } from '../helpers/server.js';

const TOKEN = 'rdc_notify_test_token';
const MASTER = 'notify test master password';
const SECRET = `whsec-${process.pid}-signing-secret`;
const SMTP_PASS = `smtp-${process.pid}-password`;

// Channels, alert rules and durable delivery through the CLI, against a real
// server process that is killed with SIGKILL while a notification is under way.
describe('notifications through the CLI', () => {
  let dir: string;
  let url: string;
  let port: number;
  let server: ChildProcess;
  const logs: string[] = [];
  const closers: (() => Promise<void>)[] = [];
  const env = { REDIACC_URL: '', REDIACC_TOKEN: TOKEN, REDIACC_MASTER_PASSWORD: MASTER };
  const cli = (args: string[], input?: string) =>
    rediacc(args, { env: { ...env, REDIACC_URL: url }, ...(input === undefined ? {} : { input }) });

  const startServer = async () => {
    const d = daemon(['server', '--port', String(port), '--data-dir', join(dir, 'data')], {
      env: {
        REDIACC_ADMIN_TOKEN: TOKEN,
        REDIACC_MASTER_PASSWORD: MASTER,
        REDIACC_NOTIFY_POLL_MS: '100',
        REDIACC_NOTIFY_RETRY_SECONDS: '1',
        REDIACC_NOTIFY_LEASE_SECONDS: '3',
      },
    });
    server = d.child;
    logs.push(d.logFile);
    await waitForHealth(url);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rediacc-notify-'));
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    await startServer();
  });
  afterAll(async () => {
    await stop(server);
    for (const c of closers) await c();
    rmSync(dir, { recursive: true, force: true });
  });

  const channels = async () =>
    JSON.parse((await cli(['list', 'channels', '-o', 'json'])).stdout) as unknown[];
  const vaultKeys = async () =>
    (JSON.parse((await cli(['vault', 'list', '-o', 'json'])).stdout) as { name: string }[]).map(
      (s) => s.name,
    );

  it('bad input: exit 2 with a clear message, nothing created', async () => {
    const cases: [string[], RegExp][] = [
      [['--type', 'sms', '--webhook-url', 'http://127.0.0.1:9/'], /unknown channel type 'sms'/],
      [['--type', 'webhook', '--url', 'ftp://127.0.0.1/x'], /must be an http:\/\/ or https:\/\/ URL/],
      [['--type', 'webhook'], /needs --url/],
      [['--type', 'slack'], /needs its incoming-webhook URL: --url-file, --url-stdin/],
      [
        ['--type', 'webhook', '--webhook-url', 'http://127.0.0.1:9/', '--url-stdin'],
        /are for a slack channel/,
      ],
      [['--type', 'slack', '--webhook-url', 'http://127.0.0.1:9/', '--url-stdin'], /give the Slack URL once/],
      [['--type', 'slack', '--url-file', '/nonexistent/slack-url'], /cannot read the Slack webhook URL/],
      [['--type', 'slack', '--webhook-url', 'file:///etc/passwd'], /http:\/\/ or https:\/\//],
      [
        ['--type', 'webhook', '--webhook-url', 'http://127.0.0.1:9/', '--team', 'nope'],
        /team 'nope' does not exist/,
      ],
      [
        ['--type', 'email', '--smtp-host', 'mail.example.com', '--from', 'me', '--to', 'a@example.com'],
        /not an email address/,
      ],
      [['--type', 'email', '--smtp-host', 'mail.example.com', '--smtp-port', 'x'], /--smtp-port/],
      [['--webhook-url', 'http://127.0.0.1:9/'], /--type/],
    ];
    for (const [flags, message] of cases) {
      const r = await cli(['create', 'channel', 'bad', ...flags]);
      expect(r.code, `${flags.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(await channels()).toEqual([]);
    expect((await vaultKeys()).filter((k) => k.startsWith('channel/'))).toEqual([]);
    for (const args of [
      ['--queue-threshold', '0'],
      ['--disable', 'bogus'],
      ['--priority-threshold', '9=1'],
      ['--wait-threshold-minutes', 'soon'],
      [],
    ]) {
      const r = await cli(['update', 'alert-rules', 'default', ...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
    }
    expect((await cli(['get', 'alert-rules', 'nope'])).code).toBe(2);
  });

  it('creates a webhook channel (secret into the vault), lists it and tests it', async () => {
    const rx = await startReceiver();
    closers.push(rx.close);
    const created = await cli(
      [
        'create',
        'channel',
        'probe',
        '--type',
        'webhook',
        '--webhook-url',
        `${rx.url}/probe`,
        '--secret-stdin',
      ],
      SECRET,
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('created channel probe (webhook, team default)');
    expect(created.stdout).toContain('channel/probe/secret');
    expect(await vaultKeys()).toContain('channel/probe/secret');
    expect((await cli(['vault', 'get', 'channel/probe/secret'])).stdout).toBe(`${SECRET}\n`);
    const list = await cli(['list', 'channels']);
    expect(list.stdout).toMatch(/^TEAM\s+NAME\s+TYPE\s+CREATED\s+TARGET$/m);
    expect(list.stdout).toContain(`${rx.url}/probe`);
    const test = await cli(['channel', 'test', 'probe']);
    expect(test.code, test.stderr).toBe(0);
    expect(test.stdout).toMatch(/^result:\s+delivered$/m);
    expect(rx.received).toHaveLength(1);
    expect(signatureValid(rx.received[0] as Received, SECRET)).toBe(true);
    expect(
      (await cli(['create', 'channel', 'probe', '--type', 'webhook', '--webhook-url', rx.url])).code,
    ).toBe(2);
    expect((await cli(['delete', 'channel', 'probe'])).code).toBe(0);
    expect(await vaultKeys()).not.toContain('channel/probe/secret');
    const gone = await cli(['channel', 'test', 'probe']);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain('CHANNEL_NOT_FOUND');
  });

  it('a failed task notifies once: 500, SIGKILL and restart, 500, then 200 — same delivery, accepted once', async () => {
    let killed = false;
    const rx = await startReceiver([500, 500, 200], (r) => {
      if (!killed && r.json.test === false) {
        killed = true;
        server.kill('SIGKILL');
      }
    });
    closers.push(rx.close);
    const made = await cli(
      ['create', 'channel', 'hooks', '--type', 'webhook', '--webhook-url', rx.url, '--secret-stdin'],
      SECRET,
    );
    expect(made.code, made.stderr).toBe(0);
    const task = await cli([
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'exit 7',
      '--retry-count',
      '2',
      '--failure-action',
      'alert',
      '-o',
      'json',
    ]);
    expect(task.code, task.stderr).toBe(0);
    const taskId = JSON.parse(task.stdout).taskId as string;
    await waitFor(
      async () => (killed && (server.exitCode !== null || server.signalCode !== null) ? true : undefined),
      30_000,
    );
    expect(server.signalCode).toBe('SIGKILL');
    await startServer();
    await waitFor(async () => (rx.received.at(-1)?.status === 200 ? true : undefined), 30_000);
    await new Promise((r) => setTimeout(r, 2500)); // past another lease and retry
    expect(rx.received.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(rx.received.map((r) => r.headers['x-rediacc-delivery'])).size).toBe(1);
    expect(rx.received.every((r) => signatureValid(r, SECRET))).toBe(true);
    expect(rx.received[0]?.json.alert).toMatchObject({ kind: 'task_failed', taskId, machine: 'local' });
    const list = JSON.parse((await cli(['list', 'alerts', '-o', 'json'])).stdout) as {
      taskId: string;
      deliveries: { channel: string; status: string; attempts: number; lastError: string }[];
    }[];
    const mine = list.filter((a) => a.taskId === taskId);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.deliveries).toEqual([
      expect.objectContaining({
        channel: 'hooks',
        status: 'sent',
        attempts: 3,
        lastError: expect.stringContaining('HTTP 500'),
      }),
    ]);
    const text = await cli(['list', 'alerts']);
    expect(text.stdout).toMatch(/^ID\s+KIND\s+TEAM\s+MACHINE\s+TASK\s+WHEN\s+DELIVERY\s+MESSAGE$/m);
    expect(text.stdout).toContain('hooks sent ×3');
  });

  it('an email channel delivers to a local SMTP server; its password stays in the vault', async () => {
    const smtp = await startSmtp({ user: 'mailer', pass: SMTP_PASS });
    closers.push(smtp.close);
    const made = await cli(
      [
        'create',
        'channel',
        'mail',
        '--type',
        'email',
        '--smtp-host',
        '127.0.0.1',
        '--smtp-port',
        String(smtp.port),
        '--smtp-tls',
        'none',
        '--smtp-user',
        'mailer',
        '--smtp-password-stdin',
        '--from',
        'rediacc@example.com',
        '--to',
        'ops@example.com',
      ],
      SMTP_PASS,
    );
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toContain(`mailer@127.0.0.1:${smtp.port} (none) → ops@example.com`);
    const test = await cli(['channel', 'test', 'mail', '-o', 'json']);
    expect(test.code, test.stderr).toBe(0);
    expect(JSON.parse(test.stdout)).toMatchObject({ ok: true, type: 'email' });
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]).toMatchObject({
      from: 'rediacc@example.com',
      to: ['ops@example.com'],
      user: 'mailer',
    });
    expect(JSON.stringify(await channels())).not.toContain(SMTP_PASS);
  });

  it('a Slack URL (the credential) comes from a file or stdin, never the command line', async () => {
    const rx = await startReceiver();
    closers.push(rx.close);
    const hook = `${rx.url}/services/T0/B0/${process.pid}slacktoken`;
    const file = join(dir, 'slack-url');
    writeFileSync(file, `${hook}\n`);
    const fromFile = await cli(['create', 'channel', 'chat-file', '--type', 'slack', '--url-file', file]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const fromStdin = await cli(['create', 'channel', 'chat-in', '--type', 'slack', '--url-stdin'], hook);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    for (const name of ['chat-file', 'chat-in']) {
      expect((await cli(['vault', 'get', `channel/${name}/url`])).stdout).toBe(`${hook}\n`);
      expect((await cli(['channel', 'test', name])).code).toBe(0);
    }
    expect(rx.received.map((r) => r.path)).toEqual([new URL(hook).pathname, new URL(hook).pathname]);
    expect(JSON.stringify(await channels())).not.toContain('slacktoken');
    // Not a URL: refused before anything is written, without echoing the value.
    const bad = await cli(
      ['create', 'channel', 'chat-bad', '--type', 'slack', '--url-stdin'],
      'slacktoken-x',
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/must be an http:\/\/ or https:\/\/ URL/);
    expect(bad.stderr).not.toContain('slacktoken');
    expect(await vaultKeys()).not.toContain('channel/chat-bad/url');
    for (const name of ['chat-file', 'chat-in'])
      expect((await cli(['delete', 'channel', name])).code).toBe(0);
  });

  it('alert rules: change some, read them back', async () => {
    const set = await cli([
      'update',
      'alert-rules',
      'default',
      '--queue-threshold',
      '50',
      '--priority-threshold',
      '1=5',
      '--queue-minutes',
      '2',
      '--disable',
      'machine-offline,ssh-key-age',
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/^machine-offline:\s+off$/m);
    expect(set.stdout).toMatch(/^queue threshold:\s+more than 50 pending for 2 min$/m);
    const get = JSON.parse((await cli(['get', 'alert-rules', 'default', '-o', 'json'])).stdout);
    expect(get.rules).toMatchObject({
      queueThreshold: 50,
      priorityThresholds: { 1: 5 },
      queueMinutes: 2,
      machineOffline: false,
      sshKeyAge: false,
      taskFailed: true,
    });
  });

  it('no secret in the server’s log', () => {
    const text = logs.map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(text).toContain('notification sent');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(SMTP_PASS);
  });
});
