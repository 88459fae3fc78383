import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemon, freePort, processesWith, rediacc, stop, waitForHealth } from '../helpers/cli.js';
import { waitFor } from '../helpers/server.js';

const TOKEN = 'rdc_vault_test_token';
const MASTER = 'vault test master password 1';
const SECRET = `Sup3r-s3cret-${process.pid}-value`;

// The vault through the CLI against a server child process whose embedded
// bridge has the master password; the secret must not show up anywhere but in
// the command's environment.
describe('vault and secrets in tasks', () => {
  let dir: string;
  let url: string;
  let server: ChildProcess;
  let serverLog: string;
  const env = (extra: Record<string, string> = {}) => ({
    REDIACC_URL: url,
    REDIACC_TOKEN: TOKEN,
    REDIACC_MASTER_PASSWORD: MASTER,
    ...extra,
  });
  const cli = (args: string[], extra: Record<string, string> = {}, input?: string) =>
    rediacc(args, { env: env(extra), ...(input === undefined ? {} : { input }) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rediacc-vault-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const d = daemon(['server', '--port', String(port), '--data-dir', join(dir, 'data')], {
      env: { REDIACC_ADMIN_TOKEN: TOKEN, REDIACC_MASTER_PASSWORD: MASTER },
    });
    server = d.child;
    serverLog = d.logFile;
    await waitForHealth(url);
  });
  afterAll(async () => {
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores a value encrypted, lists names only, reads it back', async () => {
    const set = await cli(['vault', 'set', 'db/password', '--stdin'], {}, SECRET);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('version 1');
    const list = await cli(['vault', 'list', '-o', 'json']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ name: 'db/password', version: 1, updatedBy: 'admin@localhost' }),
    ]);
    expect(list.stdout).not.toContain(SECRET);
    const get = await cli(['vault', 'get', 'db/password']);
    expect(get.stdout).toBe(`${SECRET}\n`);
  });

  it('hands the value to the command and shows *** in the output; no plaintext in the store, the log or the process list', async () => {
    const marker = `vaultmarker${process.pid}`;
    const created = await cli([
      'create',
      'task',
      '--machine',
      'local',
      '--env',
      'DB_PASSWORD=vault:db/password',
      '-o',
      'json',
      '--command',
      `echo "pw=$DB_PASSWORD"; sleep 1.5 # ${marker}`,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const task = JSON.parse(created.stdout);
    expect(task.env).toEqual(['DB_PASSWORD']);
    expect(task.secretEnv).toEqual({ DB_PASSWORD: 'db/password' });
    // While it runs: no process's command line holds the value.
    await waitFor(async () => ((await processesWith(marker)).length > 0 ? true : undefined));
    const cmdlines = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      });
    expect(cmdlines.some((c) => c.includes(SECRET))).toBe(false);
    const logs = await cli(['logs', task.taskId, '-f']);
    expect(logs.stdout).toBe('pw=***\n');
    const done = JSON.parse((await cli(['get', 'task', task.taskId, '-o', 'json'])).stdout);
    expect(done.status).toBe('completed');
    for (const f of readdirSync(join(dir, 'data')).filter((n) => n.startsWith('rediacc.db'))) {
      expect(readFileSync(join(dir, 'data', f)).includes(SECRET), f).toBe(false);
    }
    expect(readFileSync(serverLog, 'utf8')).not.toContain(SECRET);
  });

  it('a wrong master password is a clear error and writes nothing', async () => {
    const r = await cli(
      ['vault', 'set', 'db/password', '--stdin'],
      { REDIACC_MASTER_PASSWORD: 'not the password at all' },
      'x',
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('VAULT_WRONG_MASTER_PASSWORD');
    const list = JSON.parse((await cli(['vault', 'list', '-o', 'json'])).stdout);
    expect(list[0].version).toBe(1);
  });

  it('refuses a value over 64 KiB and writes nothing', async () => {
    const file = join(dir, 'big');
    writeFileSync(file, 'x'.repeat(64 * 1024 + 1));
    const r = await cli(['vault', 'set', 'big', '--from-file', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('VAULT_VALUE_TOO_LARGE');
    const list = JSON.parse((await cli(['vault', 'list', '-o', 'json'])).stdout) as { name: string }[];
    expect(list.map((s) => s.name)).toEqual(['db/password']);
  });

  it('a write that does not carry the current version gets 409', async () => {
    const res = await fetch(`${url}/api/v1/teams/default/vault/db/password`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ciphertext: '{"v":1,"iv":"a","ct":"b"}', expectedVersion: 0 }),
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('VAULT_VERSION_CONFLICT');
  });

  it('refuses a credential written into a command unless allowed, and audits the override', async () => {
    const r = await cli([
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'curl -u admin:hunter2 https://x',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('INLINE_SECRET');
    expect(r.stderr).toContain('vault:KEY');
    const key = await cli([
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'echo "-----BEGIN OPENSSH PRIVATE KEY-----"',
    ]);
    expect(key.stderr).toContain('INLINE_SECRET');
    const allowed = await cli([
      'create',
      'task',
      '--machine',
      'local',
      '--command',
      'echo token=abc123',
      '--allow-inline-secret',
    ]);
    expect(allowed.code).toBe(0);
    const audit = JSON.parse(
      (await cli(['audit', 'list', '--action', 'tasks', '-o', 'json', '--limit', '1000'])).stdout,
    );
    expect(
      audit.some((a: { details: { allowInlineSecret?: boolean } }) => a.details.allowInlineSecret === true),
    ).toBe(true);
  });

  it('change-master re-wraps the keys: the new password works, the old one stops working', async () => {
    const pwFile = join(dir, 'new-master');
    writeFileSync(pwFile, 'the new master password 2\n');
    const r = await cli(['vault', 'change-master', '--new-master-password-file', pwFile]);
    expect(r.code, r.stderr).toBe(0);
    const old = await cli(['vault', 'get', 'db/password']);
    expect(old.code).toBe(2);
    expect(old.stderr).toContain('VAULT_WRONG_MASTER_PASSWORD');
    const fresh = await cli(['vault', 'get', 'db/password'], {
      REDIACC_MASTER_PASSWORD: 'the new master password 2',
    });
    expect(fresh.stdout).toBe(`${SECRET}\n`);
  });
});
