import { join } from 'node:path';
import type { Logger } from 'pino';
import { PgBus } from '../store/postgres/pg-bus.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { type Bus, InProcessBus } from './bus.js';

/**
 * The store and the bus of a control plane: SQLite and an in-process bus for
 * one server (the default), or PostgreSQL with LISTEN/NOTIFY for any number
 * of replicas (`--database-url postgres://…` or DATABASE_URL).
 */
export async function openStorage(
  dataDir: string,
  databaseUrl: string | undefined,
  logger: Logger,
): Promise<{ store: Store; bus: Bus; close: () => Promise<void> }> {
  if (databaseUrl === undefined || databaseUrl === '') {
    const store = new SqliteStore(join(dataDir, 'rediacc.db'));
    await store.migrate();
    return { store, bus: new InProcessBus(), close: () => store.close() };
  }
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error(
      `--database-url must be a postgres:// URL (SQLite needs none), got '${databaseUrl.split('@').pop()}'`,
    );
  }
  const store = new PostgresStore(databaseUrl, {
    onError: (err) => logger.warn({ err: err.message }, 'database connection error'),
  });
  await store.migrate();
  const bus = new PgBus(databaseUrl, {
    store,
    onError: (err) => logger.warn({ err: (err as Error).message }, 'database notification channel error'),
  });
  await bus.start();
  return {
    store,
    bus,
    close: async () => {
      await bus.close();
      await store.close();
    },
  };
}
