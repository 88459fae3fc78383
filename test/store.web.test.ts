import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken } from '../src/server/tokens.js';
import type { NewWebSession } from '../src/store/web-store.js';
import { dropTestDatabase, openTestStore, result, STORES, T0, type TestStore } from './helpers/store.js';

// What the dashboard reads from the store: sessions, failures per team, a
// waiting task's place in its queue, and text search in the task list.

let t: TestStore;
afterAll(dropTestDatabase);

const HOUR = 3_600_000;

describe.each(STORES)('%s store: dashboard', (kind) => {
  let userId: number;
  beforeEach(async () => {
    t = await openTestStore(kind);
    userId = (await t.store.createUser({ email: 'ana@example.com', isAdmin: false, now: T0 })).id;
  });
  afterEach(async () => {
    await t.close();
  });

  const session = (over: Partial<NewWebSession> = {}): NewWebSession => ({
    hash: hashToken('secret-1'),
    userId,
    tokenHash: null,
    now: T0,
    idleExpiresAt: T0 + HOUR,
    expiresAt: T0 + 10 * HOUR,
    source: '127.0.0.1',
    userAgent: 'test',
    ...over,
  });

  it('finds a live session, moves its idle expiry on, and ends it', async () => {
    await t.store.web.createSession(session());
    const found = await t.store.web.findSession(hashToken('secret-1'), T0 + 1);
    expect(found).toEqual({
      id: expect.any(Number),
      userId,
      email: 'ana@example.com',
      isAdmin: false,
      viaToken: false,
      createdAt: T0,
      lastSeenAt: T0,
      idleExpiresAt: T0 + HOUR,
      expiresAt: T0 + 10 * HOUR,
    });
    expect(await t.store.web.findSession(hashToken('other'), T0 + 1)).toBeNull();
    // Idle for longer than the idle expiry: gone, unless a request moved it on.
    expect(await t.store.web.findSession(hashToken('secret-1'), T0 + HOUR)).toBeNull();
    await t.store.web.touchSession(found?.id as number, T0 + HOUR - 1, T0 + 2 * HOUR);
    expect(await t.store.web.findSession(hashToken('secret-1'), T0 + HOUR)).toMatchObject({
      lastSeenAt: T0 + HOUR - 1,
      idleExpiresAt: T0 + 2 * HOUR,
    });
    // Past the absolute expiry nothing keeps it.
    await t.store.web.touchSession(found?.id as number, T0 + 2 * HOUR, T0 + 20 * HOUR);
    expect(await t.store.web.findSession(hashToken('secret-1'), T0 + 10 * HOUR)).toBeNull();

    expect(await t.store.web.endSession(hashToken('secret-1'), T0 + 3)).toBe(true);
    expect(await t.store.web.endSession(hashToken('secret-1'), T0 + 4)).toBe(false);
    expect(await t.store.web.findSession(hashToken('secret-1'), T0 + 5)).toBeNull();
  });

  it('ends the sessions of a disabled user and of a revoked or expired token', async () => {
    await t.store.web.createSession(session());
    await t.store.identity.updateUser('ana@example.com', { disabled: true });
    expect(await t.store.web.findSession(hashToken('secret-1'), T0 + 1)).toBeNull();
    await t.store.identity.updateUser('ana@example.com', { disabled: false });
    expect(await t.store.web.findSession(hashToken('secret-1'), T0 + 1)).not.toBeNull();

    await t.store.createToken({
      hash: hashToken('rdc_tok'),
      kind: 'user',
      name: 'tok',
      userId,
      bridgeName: null,
      now: T0,
      expiresAt: T0 + 5 * HOUR,
    });
    await t.store.web.createSession(
      session({ hash: hashToken('secret-2'), tokenHash: hashToken('rdc_tok') }),
    );
    expect(await t.store.web.findSession(hashToken('secret-2'), T0 + 1)).toMatchObject({ viaToken: true });
    expect(await t.store.web.findSession(hashToken('secret-2'), T0 + 5 * HOUR)).toBeNull();
    await t.store.identity.revokeToken(userId, 'tok', T0 + 2);
    expect(await t.store.web.findSession(hashToken('secret-2'), T0 + 3)).toBeNull();
    // A session bound to a token that never existed is not live either.
    await t.store.web.createSession(session({ hash: hashToken('secret-3'), tokenHash: hashToken('nope') }));
    expect(await t.store.web.findSession(hashToken('secret-3'), T0 + 1)).toBeNull();
  });

  it('prunes sessions that ended or expired before a time, and only those', async () => {
    await t.store.web.createSession(
      session({ hash: hashToken('a'), idleExpiresAt: T0 + 1, expiresAt: T0 + 1 }),
    );
    await t.store.web.createSession(session({ hash: hashToken('b') }));
    await t.store.web.createSession(session({ hash: hashToken('c') }));
    await t.store.web.endSession(hashToken('c'), T0 + 2);
    expect(await t.store.web.pruneSessions(T0 + 3)).toBe(2);
    expect(await t.store.web.pruneSessions(T0 + 3)).toBe(0);
    expect(await t.store.web.findSession(hashToken('b'), T0 + 4)).not.toBeNull();
  });

  it('counts failures per team since a time', async () => {
    await t.store.createTeam('ops', T0);
    await t.machine('m1', 5);
    await t.machine('m2', 5, { team: 'ops' });
    const a = await t.add('m1');
    const b = await t.add('m1');
    const c = await t.add('m2');
    const d = await t.add('m2');
    await t.claim(T0 + 1);
    await t.report(T0 + 2, {
      results: [
        result(a, 1, T0 + 10, 1),
        result(b, 1, T0 + 20, 0),
        result(c, 1, T0 + 30, 2),
        result(d, 1, T0 + 40, 9),
      ],
    });
    expect(await t.store.web.failedSince(T0)).toEqual([
      { team: 'default', failed: 1 },
      { team: 'ops', failed: 2 },
    ]);
    expect(await t.store.web.failedSince(T0 + 35)).toEqual([{ team: 'ops', failed: 1 }]);
    expect(await t.store.web.failedSince(T0 + 41)).toEqual([]);
  });

  it("tells a waiting task's place in its machine's queue: higher priority first, then older", async () => {
    await t.machine('m1', 1);
    const first = await t.add('m1', { priority: 3 }, T0);
    const second = await t.add('m1', { priority: 3 }, T0 + 1);
    const urgent = await t.add('m1', { priority: 1 }, T0 + 2);
    const low = await t.add('m1', { priority: 5 }, T0 + 3);
    expect(await t.store.web.queuePlace(urgent)).toEqual({
      ahead: 0,
      machine: 'm1',
      region: 'default',
      batch: null,
    });
    expect((await t.store.web.queuePlace(first))?.ahead).toBe(1);
    expect((await t.store.web.queuePlace(second))?.ahead).toBe(2);
    expect((await t.store.web.queuePlace(low))?.ahead).toBe(3);
    await t.claim(T0 + 5);
    // The claimed one waits no more, and no longer counts for the others.
    expect(await t.store.web.queuePlace(urgent)).toBeNull();
    expect((await t.store.web.queuePlace(low))?.ahead).toBe(2);
    expect(await t.store.web.queuePlace('00000000-0000-0000-0000-000000000000')).toBeNull();
  });

  it('finds tasks by text in the command (any case) or by the start of the id', async () => {
    await t.machine('m1', 1);
    const a = await t.add('m1', { command: 'systemctl restart WebServer' });
    await t.add('m1', { command: 'uptime' });
    const found = await t.store.listTasks({ text: 'webserver', limit: 10 });
    expect(found.map((x) => x.taskId)).toEqual([a]);
    expect((await t.store.listTasks({ text: a.slice(0, 8), limit: 10 })).map((x) => x.taskId)).toEqual([a]);
    expect(await t.store.listTasks({ text: '%', limit: 10 })).toEqual([]);
    expect(await t.store.listTasks({ text: 'restart', status: 'running', limit: 10 })).toEqual([]);
  });
});
