import pg from 'pg';
import { AppError } from '../../core/errors.js';

/** Queries of one unit of work; an adapter-internal type, never handed out by the store. */
export interface Q {
  rows<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  one<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Runs a statement and returns how many rows it touched. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface PgPoolOptions {
  /** Connections the pool keeps at most. Default 10. */
  poolSize?: number;
  /** How long to wait for a connection before the store counts as unavailable, in ms. Default 10,000. */
  connectionTimeoutMs?: number;
  /** Idle connections close after this many ms. Default 30,000. */
  idleTimeoutMs?: number;
  /** Shown in pg_stat_activity. Default `rediacc`. */
  applicationName?: string;
  /** Errors of idle connections (a database restart); the pool replaces them. Default: ignored. */
  onError?: (err: Error) => void;
}

/** Namespace of the store's advisory locks (`pg_advisory_xact_lock(LOCK_SPACE, key)`): "redi". */
export const LOCK_SPACE = 0x72656469;
export const LOCKS = { migrate: 1, audit: 2, vault: 3 } as const;

/** Deadlocks and serialisation failures: the whole unit of work is run again. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_TRIES = 5;

/** Errors that mean the database cannot be reached, not that the request was wrong. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|Connection ended|connection error|timeout exceeded when trying to connect|Client was closed|not queryable/i;

export function isUnavailable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_CODES.has(code))) return true;
  // node-postgres reports a dropped connection as a plain Error without a code.
  if (code === undefined && err instanceof Error && UNAVAILABLE_MESSAGES.test(err.message)) return true;
  const nested = (err as { errors?: unknown }).errors; // AggregateError of a multi-address connect
  return Array.isArray(nested) && nested.some(isUnavailable);
}

/** A lost database is a 503 for the HTTP layer; other errors pass through unchanged. */
export function storeError(err: unknown, lost = false): unknown {
  if (err instanceof AppError) return err;
  if (lost || isUnavailable(err)) {
    const detail = err instanceof Error && err.message !== '' ? `: ${err.message}` : '';
    return new AppError('STORE_UNAVAILABLE', `the database is unavailable${detail}`, 503, { cause: err });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (code === '22021' || code === '22P05') {
    return new AppError('VALIDATION_FAILED', 'text must not contain NUL characters', 400, { cause: err });
  }
  return err;
}

/** BIGINT (ids, counts) as a JS number, for this pool only: every value stays below 2^53. */
function typeOverrides(): pg.TypeOverrides {
  const types = new pg.TypeOverrides();
  types.setTypeParser(20, (v: string) => Number(v));
  return types;
}

function queries(client: pg.PoolClient): Q {
  const exec = (sql: string, params?: readonly unknown[]) =>
    client.query(sql, params === undefined ? undefined : (params as unknown[]));
  return {
    rows: async <T>(sql: string, params?: readonly unknown[]) => (await exec(sql, params)).rows as T[],
    one: async <T>(sql: string, params?: readonly unknown[]) =>
      (await exec(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly unknown[]) => (await exec(sql, params)).rowCount ?? 0,
  };
}

/** The adapter's connection pool; every unit of work is one transaction on one pooled client. */
export class PgDb {
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(connectionString: string, o: PgPoolOptions = {}) {
    this.pool = new pg.Pool({
      connectionString,
      max: o.poolSize ?? 10,
      connectionTimeoutMillis: o.connectionTimeoutMs ?? 10_000,
      idleTimeoutMillis: o.idleTimeoutMs ?? 30_000,
      application_name: o.applicationName ?? 'rediacc',
      // Notices a peer that vanished without closing the connection (a failed-over host).
      keepAlive: true,
      types: typeOverrides(),
    });
    // Without a listener an idle connection's error (a database restart) would end the process.
    this.pool.on('error', (err) => o.onError?.(err));
  }

  /**
   * Runs `fn` in BEGIN … COMMIT (ROLLBACK on error) on one pooled client. A
   * deadlock runs it again from the start, and so does a pooled connection
   * found dead at BEGIN (nothing was done on it yet).
   */
  async tx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      const client = await this.connect();
      let broken: Error | undefined;
      let begun = false;
      const onError = (err: Error) => {
        broken = err;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        begun = true;
        const result = await fn(queries(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        const lost = broken !== undefined || isUnavailable(err);
        if (!lost) {
          await client.query('ROLLBACK').catch((e: unknown) => {
            broken = e instanceof Error ? e : new Error(String(e));
          });
        } else {
          broken ??= err instanceof Error ? err : new Error(String(err));
        }
        const code = (err as { code?: unknown } | null)?.code;
        const again = lost ? !begun : typeof code === 'string' && RETRYABLE.has(code);
        if (again && attempt < MAX_TRIES) continue;
        throw storeError(err, lost);
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    }
  }

  /** One statement, as a transaction of its own. */
  rows<T>(sql: string, params?: readonly unknown[]): Promise<T[]> {
    return this.tx((q) => q.rows<T>(sql, params));
  }

  one<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined> {
    return this.tx((q) => q.one<T>(sql, params));
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.tx((q) => q.run(sql, params));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw storeError(err);
    }
  }
}
