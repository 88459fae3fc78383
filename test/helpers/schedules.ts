import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { type RunningServer, startServer } from '../../src/server/start.js';
import { ADMIN_TOKEN } from './server.js';

/** A clock the test moves by hand; every replica started with it reads the same time. */
export class TestClock {
  constructor(public ms: number) {}
  readonly now = () => this.ms;
  advance(ms: number): number {
    this.ms += ms;
    return this.ms;
  }
  set(iso: string): number {
    this.ms = Date.parse(iso);
    return this.ms;
  }
}

/** A server (no embedded bridge by default) whose clock the test controls. */
export async function startClockedServer(
  clock: TestClock,
  o: { dataDir?: string; databaseUrl?: string; bridge?: boolean } = {},
): Promise<RunningServer> {
  return startServer({
    dataDir: o.dataDir ?? mkdtempSync(join(tmpdir(), 'rediacc-sched-')),
    port: 0,
    adminToken: ADMIN_TOKEN,
    logger: pino({ level: process.env.REDIACC_TEST_LOG ?? 'silent' }),
    bridge: o.bridge ?? false,
    healthIntervalMs: 0,
    clock: clock.now,
    ...(o.databaseUrl === undefined
      ? {}
      : { databaseUrl: o.databaseUrl, masterPassword: 'sched test master' }),
  });
}

/** Calls the API of a running server; returns status and parsed body. */
export async function call(
  server: { url: string },
  method: string,
  path: string,
  body?: unknown,
  token = ADMIN_TOKEN,
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
}
