import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropTestDatabase, openTestStore, STORES, T0, type TestStore } from './helpers/store.js';

let t: TestStore;
afterAll(dropTestDatabase);

describe.each(STORES)('%s store', (kind) => {
  beforeEach(async () => {
    t = await openTestStore(kind);
  });
  afterEach(async () => {
    await t.close();
  });

  describe('teams, regions and bridges', () => {
    it('creates teams once and lists them in byte order', async () => {
      const team = await t.store.createTeam('Zeta', T0 + 1);
      expect(team).toEqual({ id: expect.any(Number), name: 'Zeta', createdAt: T0 + 1 });
      await t.store.createTeam('alpha', T0 + 2.5);
      await expect(t.store.createTeam('alpha', T0)).rejects.toMatchObject({
        code: 'TEAM_EXISTS',
        statusCode: 409,
      });
      expect((await t.store.listTeams()).map((x) => x.name)).toEqual(['Zeta', 'alpha', 'default']);
      expect(await t.store.getTeam('alpha')).toMatchObject({ name: 'alpha', createdAt: T0 + 2.5 });
      expect(await t.store.getTeam('nope')).toBeNull();
    });

    it('deletes an empty team only', async () => {
      await expect(t.store.deleteTeam('nope')).rejects.toMatchObject({ code: 'TEAM_NOT_FOUND' });
      await t.machine('m1');
      await expect(t.store.deleteTeam('default')).rejects.toMatchObject({ code: 'TEAM_NOT_EMPTY' });
      await t.store.createTeam('empty', T0);
      await t.store.deleteTeam('empty');
      expect(await t.store.getTeam('empty')).toBeNull();
    });

    it('refuses to delete a team with task history', async () => {
      await t.store.createTeam('hist', T0);
      await t.machine('h1', 1, { team: 'hist' });
      const id = await t.add('h1');
      await t.store.cancelTask(id, T0);
      await t.store.deleteMachine('h1');
      await expect(t.store.deleteTeam('hist')).rejects.toMatchObject({ code: 'TEAM_NOT_EMPTY' });
    });

    it('ensures regions idempotently', async () => {
      const r1 = await t.store.ensureRegion('eu', T0);
      const r2 = await t.store.ensureRegion('eu', T0 + 5);
      expect(r2).toEqual(r1);
      expect((await t.store.listRegions()).map((r) => r.name)).toEqual(['default', 'eu']);
    });

    it('registers and moves bridges', async () => {
      await expect(t.store.upsertBridge('b9', 'nowhere', T0)).rejects.toMatchObject({
        code: 'REGION_NOT_FOUND',
      });
      await t.store.ensureRegion('eu', T0);
      const b = await t.store.upsertBridge('b9', 'default', T0 + 3);
      expect(b).toEqual({
        id: expect.any(Number),
        name: 'b9',
        region: 'default',
        lastSeenAt: null,
        running: 0,
        createdAt: T0 + 3,
      });
      expect(await t.store.upsertBridge('b9', 'eu', T0 + 4)).toMatchObject({ id: b.id, region: 'eu' });
      expect((await t.store.listBridges()).map((x) => [x.name, x.region])).toEqual([
        ['b1', 'default'],
        ['b9', 'eu'],
      ]);
      expect(await t.store.getBridge('ghost')).toBeNull();
    });
  });

  describe('machines', () => {
    it('creates a machine with its labels as given, once', async () => {
      const m = await t.store.createMachine(
        {
          name: 'web-1',
          team: 'default',
          region: 'default',
          transport: 'ssh',
          concurrency: 3,
          labels: { zone: 'b', app: 'web' },
          host: '10.0.0.5',
          port: 2222,
          user: 'deploy',
          hostKey: 'ssh-ed25519 AAAA',
        },
        T0 + 0.25,
      );
      expect(m).toMatchObject({
        name: 'web-1',
        team: 'default',
        region: 'default',
        transport: 'ssh',
        concurrency: 3,
        host: '10.0.0.5',
        port: 2222,
        user: 'deploy',
        hostKey: 'ssh-ed25519 AAAA',
        running: 0,
        pending: 0,
        createdAt: T0 + 0.25,
        updatedAt: T0 + 0.25,
        status: 'unknown',
        health: null,
        keyCreatedAt: null,
      });
      expect(Object.keys(m.labels)).toEqual(['zone', 'app']);
      await expect(t.machine('web-1')).rejects.toMatchObject({ code: 'MACHINE_EXISTS', statusCode: 409 });
      await expect(t.machine('x', 1, { team: 'ghost' })).rejects.toMatchObject({ code: 'TEAM_NOT_FOUND' });
      await expect(t.machine('x', 1, { region: 'ghost' })).rejects.toMatchObject({
        code: 'REGION_NOT_FOUND',
      });
    });

    it('updates only what the patch names, creating a new region on the way', async () => {
      await t.machine('m1', 2, { labels: { a: '1' }, host: 'h' });
      const m = await t.store.updateMachine('m1', { concurrency: 5, region: 'eu' }, T0 + 9);
      expect(m).toMatchObject({
        concurrency: 5,
        region: 'eu',
        labels: { a: '1' },
        host: 'h',
        updatedAt: T0 + 9,
      });
      expect((await t.store.updateMachine('m1', { labels: {} }, T0 + 10)).labels).toEqual({});
      await expect(t.store.updateMachine('ghost', {}, T0)).rejects.toMatchObject({
        code: 'MACHINE_NOT_FOUND',
      });
    });

    it('lists machines by team, region and team set', async () => {
      await t.store.createTeam('ops', T0);
      await t.store.ensureRegion('eu', T0);
      await t.machine('b', 1);
      await t.machine('a', 1, { team: 'ops', region: 'eu' });
      expect((await t.store.listMachines({})).map((m) => m.name)).toEqual(['a', 'b']);
      expect((await t.store.listMachines({ team: 'ops' })).map((m) => m.name)).toEqual(['a']);
      expect((await t.store.listMachines({ region: 'default' })).map((m) => m.name)).toEqual(['b']);
      expect((await t.store.listMachines({ teams: new Set(['default']) })).map((m) => m.name)).toEqual(['b']);
      expect(await t.store.getMachine('zzz')).toBeNull();
    });
  });

  describe('users, tokens and members', () => {
    it('creates users once and finds live tokens only', async () => {
      const u = await t.store.createUser({ email: 'ann@example.com', isAdmin: true, now: T0 });
      expect(u).toEqual({ id: expect.any(Number), email: 'ann@example.com', isAdmin: true, createdAt: T0 });
      await expect(
        t.store.createUser({ email: 'ann@example.com', isAdmin: false, now: T0 }),
      ).rejects.toMatchObject({
        code: 'USER_EXISTS',
        statusCode: 409,
      });
      expect(await t.store.getUserByEmail('ann@example.com')).toEqual(u);
      expect(await t.store.getUserByEmail('bob@example.com')).toBeNull();
      const base = { kind: 'user' as const, userId: u.id, bridgeName: null, now: T0 };
      await t.store.createToken({ ...base, hash: 'h1', name: 'cli', expiresAt: null });
      await t.store.createToken({ ...base, hash: 'h2', name: 'short', expiresAt: T0 + 10 });
      expect(await t.store.findToken('h1', T0)).toEqual({
        kind: 'user',
        name: 'cli',
        userId: u.id,
        userEmail: 'ann@example.com',
        isAdmin: true,
        bridgeName: null,
        bridgeRegion: null,
        scope: null,
      });
      expect(await t.store.findToken('h2', T0 + 9)).not.toBeNull();
      expect(await t.store.findToken('h2', T0 + 10)).toBeNull();
      expect(await t.store.findToken('nope', T0)).toBeNull();
      await t.store.identity.updateUser('ann@example.com', { disabled: true });
      expect(await t.store.findToken('h1', T0)).toBeNull();
    });

    it('keeps bridge tokens with their bridge and revokes them together', async () => {
      await t.store.createToken({
        hash: 'bt',
        kind: 'bridge',
        name: 'b1',
        userId: null,
        bridgeName: 'b1',
        now: T0,
        expiresAt: null,
      });
      expect(await t.store.findToken('bt', T0)).toMatchObject({
        kind: 'bridge',
        bridgeName: 'b1',
        bridgeRegion: 'default',
        isAdmin: false,
        userEmail: null,
      });
      await t.store.identity.revokeBridgeTokens('b1', T0 + 1);
      expect(await t.store.findToken('bt', T0 + 2)).toBeNull();
    });

    it('manages passwords, setup tokens, revocation and memberships', async () => {
      const id = t.store.identity;
      const u = await t.store.createUser({ email: 'cy@example.com', isAdmin: false, now: T0 });
      await id.setSetupToken(u.id, 'setup', T0 + 100);
      expect(await id.getUserAuth('cy@example.com')).toMatchObject({
        disabled: false,
        passwordHash: null,
        setupTokenHash: 'setup',
        setupExpiresAt: T0 + 100,
      });
      await id.setPassword(u.id, 'scrypt$x');
      expect(await id.getUserAuth('cy@example.com')).toMatchObject({
        passwordHash: 'scrypt$x',
        setupTokenHash: null,
        setupExpiresAt: null,
      });
      expect(await id.getUserAuth('nobody@example.com')).toBeNull();

      const base = { kind: 'user' as const, userId: u.id, bridgeName: null, now: T0, expiresAt: null };
      await t.store.createToken({ ...base, hash: 't1', name: 'laptop' });
      await t.store.createToken({ ...base, hash: 't2', name: 'ci' });
      const tokens = await id.listTokens(u.id);
      expect(tokens.map((x) => [x.name, x.revokedAt])).toEqual([
        ['laptop', null],
        ['ci', null],
      ]);
      expect(await id.revokeToken(u.id, String(tokens[0]?.id), T0 + 1)).toBe(true);
      expect(await id.revokeToken(u.id, 'ci', T0 + 2)).toBe(true);
      expect(await id.revokeToken(u.id, 'ci', T0 + 3)).toBe(false);
      expect(await id.revokeToken(u.id, '99999999999999999999', T0 + 3)).toBe(false);
      expect((await id.listTokens(u.id)).map((x) => x.revokedAt)).toEqual([T0 + 1, T0 + 2]);

      await t.store.createTeam('ops', T0);
      await id.addMember('ops', 'cy@example.com', 'viewer', T0 + 5);
      await id.addMember('default', 'cy@example.com', 'operator', T0 + 6);
      await id.addMember('ops', 'cy@example.com', 'maintainer', T0 + 7);
      expect(await id.membershipsOf(u.id)).toEqual(
        new Map([
          ['default', 'operator'],
          ['ops', 'maintainer'],
        ]),
      );
      expect(await id.listMembers('ops')).toEqual([
        { email: 'cy@example.com', role: 'maintainer', addedAt: T0 + 5 },
      ]);
      const users = await id.listUsers();
      expect(users).toEqual([
        {
          id: u.id,
          email: 'cy@example.com',
          isAdmin: false,
          createdAt: T0,
          disabled: false,
          hasPassword: true,
          teams: [
            { team: 'default', role: 'operator' },
            { team: 'ops', role: 'maintainer' },
          ],
        },
      ]);
      expect(await id.updateUser('cy@example.com', { isAdmin: true })).toMatchObject({ isAdmin: true });
      await expect(id.updateUser('nobody@example.com', {})).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
      await id.removeMember('ops', 'cy@example.com');
      await expect(id.removeMember('ops', 'cy@example.com')).rejects.toMatchObject({
        code: 'MEMBER_NOT_FOUND',
      });
      await expect(id.addMember('ghost', 'cy@example.com', 'viewer', T0)).rejects.toMatchObject({
        code: 'TEAM_NOT_FOUND',
      });
      await expect(id.addMember('ops', 'nobody@example.com', 'viewer', T0)).rejects.toMatchObject({
        code: 'USER_NOT_FOUND',
      });
    });

    it('keeps meta values', async () => {
      expect(await t.store.getMeta('k')).toBeNull();
      await t.store.setMeta('k', 'v1');
      await t.store.setMeta('k', 'v2');
      expect(await t.store.getMeta('k')).toBe('v2');
    });
  });
});
