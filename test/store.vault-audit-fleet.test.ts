import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChainVerifier } from '../src/audit/chain.js';
import type { AuditEntry, HealthReport } from '../src/store/store.js';
import {
  claimRequest,
  dropTestDatabase,
  openTestStore,
  STORES,
  T0,
  type TestStore,
} from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

const master = { kdf: '{"alg":"scrypt"}', verifier: '{"ct":"v1"}' };

function audit(i: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: T0 + i,
    actor: 'ann',
    action: 'task.create',
    target: `t${i}`,
    team: 'default',
    source: '127.0.0.1',
    outcome: 'ok',
    details: { b: 1, a: { y: [1, 'x'], x: null } },
    ...over,
  };
}

function health(machine: string, at: number, ok = true): HealthReport {
  return {
    machine,
    at,
    ok,
    error: ok ? null : 'connection refused',
    cpuPercent: ok ? 12.5 : null,
    load1: ok ? 0.25 : null,
    memUsedBytes: ok ? 1024 : null,
    memTotalBytes: ok ? 4096 : null,
    diskUsedBytes: ok ? 10 : null,
    diskTotalBytes: ok ? 100 : null,
  };
}

describe.each(STORES)('%s store', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
  });
  afterEach(async () => {
    await t.close();
  });

  describe('vault', () => {
    it('sets the master once and changes it with exactly the teams that have keys', async () => {
      const v = t.store.vault;
      expect(await v.getMaster()).toBeNull();
      await expect(v.changeMaster(master, [], T0)).rejects.toMatchObject({ code: 'VAULT_NOT_INITIALISED' });
      await v.initMaster(master, T0);
      await expect(v.initMaster(master, T0)).rejects.toMatchObject({ code: 'VAULT_ALREADY_INITIALISED' });
      await v.createTeamKey('default', 'wrapped-1', T0);
      await expect(v.createTeamKey('default', 'again', T0)).rejects.toMatchObject({
        code: 'TEAM_KEY_EXISTS',
      });
      await expect(v.createTeamKey('ghost', 'w', T0)).rejects.toMatchObject({ code: 'TEAM_NOT_FOUND' });
      expect(await v.getTeamKey('default')).toBe('wrapped-1');
      await t.store.createTeam('ops', T0);
      expect(await v.getTeamKey('ops')).toBeNull();
      await expect(v.changeMaster(master, [], T0)).rejects.toMatchObject({ code: 'VAULT_KEYS_CHANGED' });
      await expect(
        v.changeMaster(
          master,
          [
            { team: 'default', wrapped: 'w2' },
            { team: 'ops', wrapped: 'w3' },
          ],
          T0,
        ),
      ).rejects.toMatchObject({ code: 'VAULT_KEYS_CHANGED' });
      const next = { kdf: '{"alg":"scrypt","n":2}', verifier: '{"ct":"v2"}' };
      await v.changeMaster(next, [{ team: 'default', wrapped: 'wrapped-2' }], T0 + 1);
      expect(await v.getMaster()).toEqual(next);
      expect(await v.listTeamKeys()).toEqual([{ team: 'default', wrapped: 'wrapped-2' }]);
    });

    it('versions secrets and refuses a stale write', async () => {
      const v = t.store.vault;
      expect(await v.putSecret('default', 'db/password', 'c1', 0, 'ann', T0)).toBe(1);
      await expect(v.putSecret('default', 'db/password', 'c1b', 0, 'bob', T0)).rejects.toMatchObject({
        code: 'VAULT_VERSION_CONFLICT',
        statusCode: 409,
        message: expect.stringContaining('at version 1, not 0'),
      });
      expect(await v.putSecret('default', 'db/password', 'c2', 1, 'bob', T0 + 1)).toBe(2);
      await expect(v.putSecret('default', 'db/password', 'c3', 1, 'ann', T0)).rejects.toMatchObject({
        code: 'VAULT_VERSION_CONFLICT',
      });
      await expect(v.putSecret('default', 'new', 'c', 4, 'ann', T0)).rejects.toMatchObject({
        code: 'VAULT_VERSION_CONFLICT',
        message: expect.stringContaining('at version 0, not 4'),
      });
      await v.putSecret('default', 'B', 'cb', 0, 'ann', T0 + 2);
      expect(await v.getSecret('default', 'db/password')).toEqual({
        name: 'db/password',
        version: 2,
        ciphertext: 'c2',
        updatedBy: 'bob',
        updatedAt: T0 + 1,
      });
      expect(await v.getSecret('default', 'nope')).toBeNull();
      expect(await v.listSecrets('default')).toEqual([
        { name: 'B', version: 1, updatedBy: 'ann', updatedAt: T0 + 2 },
        { name: 'db/password', version: 2, updatedBy: 'bob', updatedAt: T0 + 1 },
      ]);
      await v.deleteSecret('default', 'B');
      await expect(v.deleteSecret('default', 'B')).rejects.toMatchObject({ code: 'VAULT_KEY_NOT_FOUND' });
      await expect(v.listSecrets('ghost')).rejects.toMatchObject({ code: 'TEAM_NOT_FOUND' });
    });

    it('hands a claimed task its secrets, the SSH key and the wrapped team key', async () => {
      await t.store.vault.initMaster(master, T0);
      await t.store.vault.createTeamKey('default', 'wrapped', T0);
      await t.store.vault.putSecret('default', 'db/password', 'cipher-db', 0, 'ann', T0);
      await t.store.vault.putSecret('default', 'ssh/web', 'cipher-key', 0, 'ann', T0);
      await t.machine('web', 2, { transport: 'ssh', host: 'h', port: 22, user: 'u', hostKey: 'hk' });
      await t.machine('plain', 2);
      const withSecrets = await t.add('web', {
        secretEnv: { DB: 'db/password', GONE: 'deleted/key' },
        env: { A: '1' },
      });
      const bare = await t.add('plain');
      const out = await t.store.claim(claimRequest(T0 + 1));
      expect(out.find((a) => a.taskId === withSecrets)).toMatchObject({
        env: { A: '1' },
        machine: {
          name: 'web',
          transport: 'ssh',
          hostKey: 'hk',
          sshKey: { key: 'ssh/web', version: 1, ciphertext: 'cipher-key' },
        },
        secrets: [
          { env: 'DB', key: 'db/password', version: 1, ciphertext: 'cipher-db' },
          { env: 'GONE', key: 'deleted/key', version: 0, ciphertext: '' },
        ],
        vault: { kdf: master.kdf, teamKey: 'wrapped' },
      });
      expect(out.find((a) => a.taskId === bare)).toMatchObject({
        secrets: [],
        vault: null,
        machine: { sshKey: null },
      });
      expect((await t.store.getTask(withSecrets))?.envNames).toEqual(['A', 'DB', 'GONE']);
    });
  });

  describe('audit', () => {
    it('appends a chain that verifies, and lists it with filters', async () => {
      expect(await t.store.audit.head()).toBeNull();
      await t.store.audit.append([]);
      await t.store.audit.append([audit(1), audit(2, { action: 'vault.set', team: 'ops' })]);
      await t.store.audit.append([
        audit(3, { actor: 'bob', action: 'vault', outcome: 'denied', target: null, source: null }),
        audit(4, { action: 'VAULT.read', at: T0 + 4.75 }),
        audit(5, { action: 'vaultx.read' }),
      ]);
      const all = await t.store.audit.list({ limit: 100 });
      expect(all.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
      expect(all[0]?.details).toEqual({ b: 1, a: { y: [1, 'x'], x: null } });
      expect(all[3]?.at).toBe(T0 + 4.75);
      const v = new ChainVerifier();
      expect(v.feed(all)).toBe(true);
      const check = v.result();
      expect(await t.store.audit.head()).toEqual({ id: 5, hash: check.ok ? check.lastHash : '' });
      const ids = async (f: Partial<Parameters<typeof t.store.audit.list>[0]>) =>
        (await t.store.audit.list({ limit: 100, ...f })).map((r) => r.id);
      expect(await ids({ action: 'vault' })).toEqual([2, 3, 4]);
      expect(await ids({ actor: 'bob' })).toEqual([3]);
      expect(await ids({ team: 'ops' })).toEqual([2]);
      expect(await ids({ since: T0 + 2, until: T0 + 4 })).toEqual([2, 3]);
      expect(await ids({ afterId: 3, limit: 1 })).toEqual([4]);
    });
  });

  describe('fleet', () => {
    it('pins a host key once', async () => {
      await t.machine('m1');
      expect(await t.store.fleet.pinHostKey('m1', 'k1', T0)).toBe(true);
      expect(await t.store.fleet.pinHostKey('m1', 'k1', T0)).toBe(true);
      expect(await t.store.fleet.pinHostKey('m1', 'k2', T0)).toBe(false);
      expect(await t.store.fleet.pinHostKey('ghost', 'k1', T0)).toBe(false);
      expect((await t.store.getMachine('m1'))?.hostKey).toBe('k1');
    });

    it('records health, marks unreachable machines offline once and back online', async () => {
      const f = t.store.fleet;
      await t.machine('m1');
      await t.machine('m2');
      expect(await f.recordHealth([health('m1', T0 + 1_000), health('ghost', T0)], T0 + 1_000)).toEqual([]);
      expect(await t.store.getMachine('m1')).toMatchObject({
        status: 'online',
        statusSince: T0 + 1_000,
        lastError: null,
        health: { at: T0 + 1_000, cpuPercent: 12.5, load1: 0.25, memUsedBytes: 1024, diskTotalBytes: 100 },
      });
      await f.recordHealth([health('m1', T0 + 70_000, false), health('m2', T0 + 70_000, false)], T0 + 70_000);
      expect(await f.markOffline(T0 + 70_000, 60_000)).toEqual([
        { machine: 'm1', team: 'default', region: 'default' },
        { machine: 'm2', team: 'default', region: 'default' },
      ]);
      expect(await f.markOffline(T0 + 80_000, 60_000)).toEqual([]);
      expect(
        await f.recordHealth([health('m1', T0 + 90_000), health('m1', T0 + 91_000)], T0 + 91_000),
      ).toEqual([{ machine: 'm1', team: 'default', status: 'online' }]);
      const alerts = await t.store.listAlerts({ limit: 10 });
      expect(alerts.map((a) => [a.kind, a.machine])).toEqual([
        ['machine_online', 'm1'],
        ['machine_offline', 'm2'],
        ['machine_offline', 'm1'],
      ]);
      expect(alerts[2]?.message).toContain('connection refused');
      expect((await f.healthHistory('m1', 0)).map((h) => [h.minute, h.cpuPercent])).toEqual([
        [Math.floor((T0 + 1_000) / 60_000), 12.5],
        [Math.floor((T0 + 90_000) / 60_000), 12.5],
      ]);
      await f.pruneHealth(Math.floor((T0 + 90_000) / 60_000));
      expect(await f.healthHistory('m1', 0)).toHaveLength(1);
      expect(await f.healthHistory('m1', Math.floor((T0 + 90_000) / 60_000) + 1)).toEqual([]);
    });

    it('alerts once per SSH key older than its team allows', async () => {
      const f = t.store.fleet;
      await t.machine('m1');
      await expect(f.setMaxKeyAge('ghost', 1)).rejects.toMatchObject({ code: 'TEAM_NOT_FOUND' });
      expect(await f.getMaxKeyAge('default')).toBeNull();
      await f.setMaxKeyAge('default', 1.5);
      expect(await f.getMaxKeyAge('default')).toBe(1.5);
      await f.setKeyCreatedAt('m1', T0);
      expect(await f.alertOldKeys(T0 + 86_400_000)).toEqual([]);
      expect(await f.alertOldKeys(T0 + 2 * 86_400_000)).toEqual(['m1']);
      expect(await f.alertOldKeys(T0 + 3 * 86_400_000)).toEqual([]);
      await f.setKeyCreatedAt('m1', T0 + 3 * 86_400_000);
      expect(await f.alertOldKeys(T0 + 5 * 86_400_000)).toEqual(['m1']);
      const alerts = await t.store.listAlerts({ team: 'default', limit: 5 });
      expect(alerts.map((a) => a.kind)).toEqual(['ssh_key_old', 'ssh_key_old']);
      expect(alerts[1]?.message).toContain('2 days old');
      await f.setMaxKeyAge('default', null);
      expect(await f.getMaxKeyAge('default')).toBeNull();
    });
  });
});
