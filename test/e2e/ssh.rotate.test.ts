import { chownSync, copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from '../fleet/fleet.js';
import { rediacc } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.js';

// Key rotation on real sshd machines: no lock-out, and a failed rotation leaves the old key working.
describe('SSH key rotation', () => {
  let t: TestServer;
  let fleet: Fleet;
  const cli = (...args: string[]) =>
    rediacc(args, { env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_DATA_DIR: t.dataDir } });
  const run = async (machine: string) => {
    const r = await cli('create', 'task', '--machine', machine, '--command', 'echo alive', '--wait');
    return { code: r.code, out: r.stdout };
  };

  beforeAll(async () => {
    fleet = await startFleet({ size: 2 });
    t = await startTestServer({ healthIntervalMs: 0 });
    for (const m of fleet.machines) {
      const r = await cli(
        'create',
        'machine',
        m.name,
        '--host',
        m.host,
        '--port',
        String(m.port),
        '--user',
        m.user,
        '--ssh-key-file',
        fleet.clientKeyFile,
        '--host-key',
        m.hostKeyPublic,
      );
      expect(r.code, r.stderr).toBe(0);
    }
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await fleet?.close();
  });

  it('replaces the key: the new one is the only one authorised, the vault holds it, the machine works', async () => {
    const before = fleet.authorizedKeys('fleet-01');
    expect(before).toContain(fleet.clientKeyPublic.split(' ')[1]);
    const r = await cli('machine', 'rotate-key', 'fleet-01');
    expect(r.code, r.stderr).toBe(0);
    const after = fleet.authorizedKeys('fleet-01');
    expect(after).not.toContain(fleet.clientKeyPublic.split(' ')[1]);
    expect(after.trim().split('\n')).toHaveLength(1);
    expect(after).toMatch(/^ssh-ed25519 /);
    const vault = JSON.parse((await cli('vault', 'list', '-o', 'json')).stdout) as {
      name: string;
      version: number;
    }[];
    expect(vault.find((v) => v.name === 'ssh/fleet-01')?.version).toBe(2);
    expect(vault.some((v) => v.name.includes('-rk-'))).toBe(false);
    // A fresh connection must log in with the new key.
    await fleet.restart('fleet-01');
    expect(await run('fleet-01')).toEqual({ code: 0, out: 'alive\n' });
    const machines = JSON.parse((await cli('list', 'machines', '-o', 'json')).stdout) as { name: string }[];
    expect(machines.map((m) => m.name).filter((n) => n !== 'local')).toEqual(['fleet-01', 'fleet-02']);
    const audit = JSON.parse((await cli('audit', 'list', '--action', 'vault.set', '-o', 'json')).stdout) as {
      target: string;
    }[];
    expect(audit.some((a) => a.target === 'ssh/fleet-01')).toBe(true);
  }, 90_000);

  it('a rotation that cannot log in with the new key rolls back; the old key still works', async () => {
    const frozen = join(fleet.machine('fleet-02').dir, 'frozen_keys');
    const original = fleet.machine('fleet-02').authorizedKeysFile;
    copyFileSync(original, frozen);
    // sshd reads authorized keys as the user: the copy must be theirs.
    chownSync(frozen, statSync(original).uid, statSync(original).gid);
    await fleet.readKeysFrom('fleet-02', frozen);
    const r = await cli('machine', 'rotate-key', 'fleet-02');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('KEY_ROTATION_FAILED');
    expect(r.stderr, r.stderr).toContain('no login with the new key');
    expect(fleet.authorizedKeys('fleet-02').trim().split('\n')).toEqual(
      [fleet.clientKeyPublic.trim()].map((k) => expect.stringContaining(k.split(' ')[1] as string)),
    );
    const vault = JSON.parse((await cli('vault', 'list', '-o', 'json')).stdout) as {
      name: string;
      version: number;
    }[];
    expect(vault.find((v) => v.name === 'ssh/fleet-02')?.version).toBe(1);
    await fleet.restart('fleet-02');
    expect(await run('fleet-02')).toEqual({ code: 0, out: 'alive\n' });
  }, 90_000);

  it('keys older than the team allows raise one alert', async () => {
    const db = new Database(join(t.dataDir, 'rediacc.db'));
    try {
      db.prepare(`UPDATE machines SET key_created_at = ? WHERE name = 'fleet-02'`).run(
        Date.now() - 100 * 86_400_000,
      );
    } finally {
      db.close();
    }
    expect((await cli('update', 'team', 'default', '--max-key-age', '90d')).code).toBe(0);
    const alerts = await waitFor(async () => {
      const list = JSON.parse((await cli('list', 'alerts', '-o', 'json')).stdout) as {
        kind: string;
        machine: string;
      }[];
      return list.some((a) => a.kind === 'ssh_key_old') ? list : undefined;
    });
    expect(alerts.filter((a) => a.kind === 'ssh_key_old').map((a) => a.machine)).toEqual(['fleet-02']);
    const m = JSON.parse((await cli('get', 'machine', 'fleet-01', '-o', 'json')).stdout);
    expect(Date.now() - Date.parse(m.keyCreatedAt)).toBeLessThan(10 * 60_000);
  });
});
