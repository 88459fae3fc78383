import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rediacc } from './helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from './helpers/server.js';

describe('output retention and archive', () => {
  let t: TestServer;
  beforeAll(async () => {
    // Retention 0 days: output is archived as soon as the task has ended.
    t = await startTestServer({ settings: { logRetentionDays: 0, retentionIntervalMs: 200 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('writes old output to a dated gzip JSONL file, deletes it from the store and says where it went', async () => {
    const created = await t.api('POST', '/tasks', { machine: 'local', command: 'echo one; echo two >&2' });
    const id = created.body.taskId as string;
    const task = await waitFor(async () => {
      const r = await t.api('GET', `/tasks/${id}`);
      return r.body.outputArchive ? r.body : undefined;
    });
    expect(task.outputArchive).toMatch(/archive\/\d{4}-\d{2}-\d{2}\.jsonl\.gz$/);
    expect(task.outputArchive.endsWith(`${task.finishedAt.slice(0, 10)}.jsonl.gz`)).toBe(true);
    const lines = gunzipSync(readFileSync(task.outputArchive))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const mine = lines.filter((l) => l.task === id);
    expect(mine).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          task: id,
          team: 'default',
          machine: 'local',
          attempt: 1,
          stream: 'stdout',
          text: 'one\n',
        }),
        expect.objectContaining({ stream: 'stderr', text: 'two\n' }),
      ]),
    );
    expect(Date.parse(mine[0].time)).not.toBeNaN();
    const stored = await t.api('GET', `/tasks/${id}/logs`);
    expect(stored.body.chunks).toEqual([]);
    const cli = await rediacc(['logs', id], { env: { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN } });
    expect(cli.code).toBe(0);
    expect(cli.stderr).toContain(`archived to ${task.outputArchive}`);
  });

  it('a task without output is marked without writing anything', async () => {
    const created = await t.api('POST', '/tasks', { machine: 'local', command: 'true' });
    const task = await waitFor(async () => {
      const r = await t.api('GET', `/tasks/${created.body.taskId}`);
      return r.body.outputArchive ? r.body : undefined;
    });
    expect(task.outputArchive).toBe('none');
  });
});
