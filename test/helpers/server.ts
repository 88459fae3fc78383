import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { NotifySettings } from '../../src/notify/settings.js';
import type { ServerSettings } from '../../src/server/settings.js';
import { type RunningServer, startServer } from '../../src/server/start.js';

export const ADMIN_TOKEN = 'rdc_test_admin_token';

export interface TestServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  /** Calls the API as the admin; returns status and parsed JSON body. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies
  api<T = any>(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/** A real server on a random loopback port with its own SQLite file. */
export async function startTestServer(
  options: {
    settings?: Partial<ServerSettings>;
    bridge?: boolean;
    dataDir?: string;
    healthIntervalMs?: number;
    /** Notification settings (src/notify/settings.ts), e.g. short poll and retry times. */
    notify?: Partial<NotifySettings>;
    databaseUrl?: string;
    masterPassword?: string;
    trustProxy?: string[];
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'rediacc-test-'));
  const server = await startServer({
    dataDir,
    port: 0,
    adminToken: ADMIN_TOKEN,
    logger: pino({ level: process.env.REDIACC_TEST_LOG ?? 'silent' }),
    bridge: options.bridge ?? true,
    settings: options.settings ?? {},
    ...(options.healthIntervalMs === undefined ? {} : { healthIntervalMs: options.healthIntervalMs }),
    ...(options.notify === undefined ? {} : { notify: options.notify }),
    ...(options.databaseUrl === undefined ? {} : { databaseUrl: options.databaseUrl }),
    ...(options.masterPassword === undefined ? {} : { masterPassword: options.masterPassword }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
  });
  const url = server.url;
  return {
    server,
    url,
    dataDir,
    api: async (method, path, body, token = ADMIN_TOKEN) => {
      const res = await fetch(`${url}/api/v1${path}`, {
        method,
        headers: {
          ...(token === '' ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      // Answers that are not JSON (GET /metrics) come back as text.
      const json = res.headers.get('content-type')?.startsWith('application/json') ?? false;
      return { status: res.status, body: text === '' ? null : json ? JSON.parse(text) : text };
    },
    close: async () => {
      await server.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  stepMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
