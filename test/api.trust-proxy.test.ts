import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxyList } from '../src/cli/commands/daemons.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// Behind a load balancer every request comes from its address: --trust-proxy lets X-Forwarded-For
// name the client, for the login limits and the audit log's source.
describe('--trust-proxy', () => {
  let trusting: TestServer;
  let plain: TestServer;
  beforeAll(async () => {
    trusting = await startTestServer({ bridge: false, trustProxy: ['127.0.0.1'] });
    plain = await startTestServer({ bridge: false });
  });
  afterAll(async () => {
    await trusting?.close();
    await plain?.close();
  });

  const failLogin = (t: TestServer, from: string, email = 'nobody@example.com') =>
    fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
      body: JSON.stringify({ email, password: 'wrong password here' }),
    });
  const lastSource = async (t: TestServer) => {
    const audit = (await t.api('GET', '/audit?limit=1000')).body as { source: string | null }[];
    return audit.at(-1)?.source;
  };

  it('takes the client address from a trusted proxy, and ignores the header otherwise', async () => {
    expect((await failLogin(trusting, '203.0.113.9')).status).toBe(401);
    expect(await lastSource(trusting)).toBe('203.0.113.9');
    expect((await failLogin(plain, '203.0.113.9')).status).toBe(401);
    expect(await lastSource(plain)).toBe('127.0.0.1');
  });

  it('limits logins per client behind the proxy, not for everyone at once', async () => {
    let last = 0;
    // A different account each time: the per-address limit (20 per 15 min) is what trips.
    for (let i = 0; i < 25; i += 1)
      last = (await failLogin(trusting, '198.51.100.7', `u${i}@example.com`)).status;
    expect(last).toBe(429);
    // Another client behind the same proxy is not locked out.
    expect((await failLogin(trusting, '198.51.100.8', 'someone@example.com')).status).toBe(401);
  });

  it('accepts addresses and CIDR ranges, and refuses anything else', () => {
    expect(proxyList('10.0.0.5, 10.1.0.0/16,fd00::/8')).toEqual(['10.0.0.5', '10.1.0.0/16', 'fd00::/8']);
    for (const bad of ['', 'lb.internal', '10.0.0.0/33', '10.0.0.1/8/1', 'true']) {
      expect(() => proxyList(bad)).toThrow(/--trust-proxy/);
    }
  });
});
