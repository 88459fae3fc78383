import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { verifySignature } from '../../src/notify/signature.js';
import { encryptSecret, newTeamKey, wrapTeamKey } from '../../src/vault/crypto.js';
import { Keyring } from '../../src/vault/keyring.js';
import type { TestServer } from './server.js';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown> & { deliveryId?: string; test?: boolean; alert?: Record<string, unknown> };
  /** The status this receiver answered. */
  status: number;
}

/**
 * A real HTTP receiver on loopback. `answers` is the status sequence it gives
 * (the last one repeats); `onRequest` runs after each answer.
 */
export async function startReceiver(
  answers: number[] = [200],
  onRequest?: (r: Received, all: Received[]) => void,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = answers[Math.min(received.length, answers.length - 1)] ?? 200;
      let json = {};
      try {
        json = JSON.parse(body);
      } catch {}
      const r: Received = { path: req.url ?? '', headers: req.headers, body, json, status };
      received.push(r);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : `status ${status}`);
      onRequest?.(r, received);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** Whether a received webhook carries a valid signature for `secret` and a fresh timestamp. */
export function signatureValid(r: Received, secret: string): boolean {
  return verifySignature(
    secret,
    {
      timestamp: r.headers['x-rediacc-timestamp'] as string | undefined,
      signature: r.headers['x-rediacc-signature'] as string | undefined,
    },
    r.body,
    Math.floor(Date.now() / 1000),
  );
}

export interface Mail {
  from: string;
  to: string[];
  user: string | null;
  raw: string;
}

/** A real SMTP server on loopback (no TLS) that accepts one login and keeps every message. */
export async function startSmtp(login: { user: string; pass: string }) {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: false,
    logger: false,
    onAuth(auth, _session, done) {
      if (auth.username === login.user && auth.password === login.pass) done(null, { user: auth.username });
      else done(new Error('Invalid username or password'));
    },
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          user: (session.user as string | undefined) ?? null,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        done();
      });
    },
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, close: () => new Promise<void>((done) => server.close(() => done())) };
}

/**
 * Encrypts a value for a team's vault key the way the CLI does, with the quick
 * start's master password from the server's data dir.
 */
export async function seal(
  t: TestServer,
  team: string,
  key: string,
  value: string,
  version = 1,
  masterPassword?: string,
): Promise<string> {
  const keyring = new Keyring(
    masterPassword ?? readFileSync(join(t.dataDir, 'master-password'), 'utf8').trim(),
  );
  const master = (await t.api('GET', '/vault/master')).body as { kdf: string; verifier: string };
  keyring.check(master);
  let wrapped = ((await t.api('GET', `/teams/${team}/vault-key`)).body as { wrapped?: string }).wrapped;
  if (wrapped === undefined) {
    wrapped = wrapTeamKey(keyring.kek(master.kdf), team, newTeamKey());
    await t.api('POST', `/teams/${team}/vault-key`, { wrapped });
  }
  return encryptSecret(keyring.teamKey(master.kdf, team, wrapped), team, key, version, value);
}

/** Creates a webhook channel through the API, its signing secret sealed into the vault. */
export async function createWebhook(
  t: TestServer,
  team: string,
  name: string,
  url: string,
  secret: string,
  masterPassword?: string,
) {
  const res = await t.api('POST', `/teams/${team}/channels`, {
    name,
    type: 'webhook',
    url,
    secrets: [
      {
        key: 'secret',
        ciphertext: await seal(t, team, `channel/${name}/secret`, secret, 1, masterPassword),
        expectedVersion: 0,
      },
    ],
  });
  if (res.status !== 201)
    throw new Error(`create channel ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export interface AlertWithDeliveries {
  id: number;
  kind: string;
  team: string;
  taskId: string | null;
  message: string;
  deliveries: {
    deliveryId: string;
    channel: string;
    status: string;
    attempts: number;
    lastError: string | null;
  }[];
  deliveryNote: string | null;
}

export async function alerts(t: TestServer, team?: string): Promise<AlertWithDeliveries[]> {
  const res = await t.api('GET', `/alerts?limit=1000${team === undefined ? '' : `&team=${team}`}`);
  if (res.status !== 200) throw new Error(`alerts: ${res.status}`);
  return res.body as AlertWithDeliveries[];
}
