import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/start.js';
import { rediacc } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, waitFor } from '../helpers/server.js';
import { emptyDatabase } from '../helpers/store.js';

// A quick-start SQLite store copied into PostgreSQL keeps tasks, output, vault ciphertext and the audit chain.
describe('migrate-store', () => {
  let db: { url: string; drop(): Promise<void> } | undefined;
  afterAll(async () => {
    await db?.drop();
  });

  it('copies everything; the PostgreSQL server answers the same and the audit chain verifies', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rediacc-migrate-'));
    const t = await startTestServer({ dataDir });
    const env = { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_DATA_DIR: dataDir };
    const task = await rediacc(
      ['create', 'task', '--machine', 'local', '--command', 'echo migrated-output', '--wait', '-o', 'json'],
      { env },
    );
    const taskId = JSON.parse(task.stdout).taskId as string;
    expect(
      (await rediacc(['vault', 'set', 'db/password', '--stdin'], { env, input: 'moved-secret' })).code,
    ).toBe(0);
    await waitFor(async () => ((await t.api('GET', '/audit?limit=10')).body.length >= 2 ? true : undefined));
    await t.close();

    db = await emptyDatabase();
    const r = await rediacc([
      'migrate-store',
      '--from',
      `sqlite:${join(dataDir, 'rediacc.db')}`,
      '--to',
      db.url,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^migrated \d+ row/);

    const pgServer = await startServer({
      dataDir: mkdtempSync(join(tmpdir(), 'rediacc-migrated-')),
      port: 0,
      databaseUrl: db.url,
      logger: pino({ level: 'silent' }),
      bridge: false,
    });
    try {
      const penv = { REDIACC_URL: pgServer.url, REDIACC_TOKEN: ADMIN_TOKEN, REDIACC_DATA_DIR: dataDir };
      const got = JSON.parse((await rediacc(['get', 'task', taskId, '-o', 'json'], { env: penv })).stdout);
      expect(got).toMatchObject({ taskId, status: 'completed', exitCode: 0 });
      expect((await rediacc(['logs', taskId], { env: penv })).stdout).toBe('migrated-output\n');
      expect((await rediacc(['vault', 'get', 'db/password'], { env: penv })).stdout).toBe('moved-secret\n');
      const verify = await rediacc(['audit', 'verify'], { env: penv });
      expect(verify.code, verify.stderr).toBe(0);
      expect(verify.stdout).toMatch(/audit log intact: \d+ record/);
      // New rows go on after the copied ids.
      const again = await rediacc(
        ['create', 'task', '--machine', 'local', '--command', 'true', '-o', 'json'],
        { env: penv },
      );
      expect(again.code, again.stderr).toBe(0);
      expect((await rediacc(['audit', 'verify'], { env: penv })).code).toBe(0);
    } finally {
      await pgServer.close();
    }
  }, 90_000);
});
