import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

// The audit log's since/until filters: a date that does not exist is refused
// (not read as "nothing matches"), and a time without a zone is UTC as
// documented, whatever the server's own time zone.

describe('audit since/until', () => {
  let t: TestServer;
  const zone = process.env.TZ;

  beforeAll(async () => {
    process.env.TZ = 'America/New_York';
    t = await startTestServer({ bridge: false });
    expect((await t.api('POST', '/teams', { name: 'alpha' })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });

  it('refuses dates and times that do not exist', async () => {
    for (const bad of [
      'since=2024-13-45',
      'since=2024-01-01T99:99',
      'until=2024-01-01T10',
      'until=2024-01-01T::',
    ]) {
      const r = await t.api('GET', `/audit?${bad}`);
      expect([r.status, r.body.error.code, r.body.error.field], bad).toEqual([
        400,
        'VALIDATION_FAILED',
        bad.split('=')[0],
      ]);
    }
  });

  it('reads a time without a zone as UTC', async () => {
    const [record] = (await t.api('GET', '/audit?action=teams.create&order=desc&limit=1')).body as {
      time: string;
    }[];
    const at = Date.parse(record?.time as string);
    const noZone = (ms: number) => new Date(ms).toISOString().replace('Z', '');
    const since = async (value: string) =>
      (
        (await t.api('GET', `/audit?action=teams.create&since=${encodeURIComponent(value)}`))
          .body as unknown[]
      ).length;
    expect(await since(noZone(at))).toBe(1);
    expect(await since(noZone(at + 1))).toBe(0);
    expect(await since(noZone(at).replace('T', ' '))).toBe(1);
    expect(await since(new Date(at + 1).toISOString())).toBe(0);
  });
});
