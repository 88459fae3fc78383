import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody } from './helpers/api.js';
import { seal } from './helpers/notify.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { emptyDatabase, STORES } from './helpers/store.js';

const MASTER = 'version bounds master password';

// Vault versions are a 32-bit column; a larger expectedVersion once reached
// PostgreSQL and came back as a 500. It is bad input: 400, nothing written.
describe.each(STORES)('expectedVersion past the version column (%s)', (kind) => {
  let t: TestServer;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (kind === 'postgres') {
      const db = await emptyDatabase();
      databaseUrl = db.url;
      drop = db.drop;
    }
    t = await startTestServer({
      bridge: false,
      masterPassword: MASTER,
      ...(databaseUrl === undefined ? {} : { databaseUrl }),
    });
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it('create channel and vault set answer 400 and write nothing', async () => {
    const ciphertext = await seal(t, 'default', 'channel/big/secret', 'whsec', 1, MASTER);
    for (const expectedVersion of [2_147_483_648, 3_000_000_000, 1e300]) {
      expectErrorBody(
        await t.api('POST', '/teams/default/channels', {
          name: 'big',
          type: 'webhook',
          url: 'http://127.0.0.1:9/hook',
          secrets: [{ key: 'secret', ciphertext, expectedVersion }],
        }),
        400,
        'VALIDATION_FAILED',
        'secrets[0].expectedVersion',
      );
      expectErrorBody(
        await t.api('PUT', '/teams/default/vault/big', { ciphertext, expectedVersion }),
        400,
        'VALIDATION_FAILED',
        'expectedVersion',
      );
    }
    expect((await t.api('GET', '/channels?team=default')).body).toEqual([]);
    expect((await t.api('GET', '/teams/default/vault')).body).toEqual([]);
    // The largest version the column holds is still only a version conflict.
    expectErrorBody(
      await t.api('PUT', '/teams/default/vault/big', { ciphertext, expectedVersion: 2_147_483_647 }),
      409,
      'VAULT_VERSION_CONFLICT',
    );
  });
});
