import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorBody } from './helpers/api.js';
import { ADMIN_TOKEN, startTestServer, type TestServer } from './helpers/server.js';
import { createTask, waitForEnd } from './helpers/tasks.js';

let t: TestServer;
let dir: string;
beforeAll(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'rediacc-follow-'));
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

interface SseEvent {
  event: string;
  id: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: event payloads are arbitrary JSON
  data: any;
}

/** Reads server-sent events until `end` (or the stream closes); fails after `timeoutMs`. */
async function follow(
  taskId: string,
  query = 'follow=1',
  onFirstEvent: () => void = () => {},
  timeoutMs = 30_000,
): Promise<{ events: SseEvent[]; contentType: string | null }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const res = await fetch(`${t.url}/api/v1/tasks/${taskId}/logs?${query}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const events: SseEvent[] = [];
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut = buffer.indexOf('\n\n');
      while (cut >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        cut = buffer.indexOf('\n\n');
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue; // keep-alive comment
          const i = line.indexOf(': ');
          if (i > 0) fields.set(line.slice(0, i), line.slice(i + 2));
        }
        if (!fields.has('event')) continue;
        events.push({
          event: fields.get('event')!,
          id: fields.get('id') ?? null,
          data: JSON.parse(fields.get('data') ?? 'null'),
        });
        if (events.length === 1) onFirstEvent();
      }
      if (events.at(-1)?.event === 'end') break;
    }
    await reader.cancel().catch(() => {});
    return { events, contentType: res.headers.get('content-type') };
  } finally {
    clearTimeout(timer);
  }
}

describe('GET /tasks/:id/logs?follow=1', () => {
  it('streams the output of a running task live and ends with the final task', async () => {
    // The task waits for a gate opened once the stream is connected, so all its output comes live.
    const gate = join(dir, 'gate');
    const id = await createTask(t, {
      command: `while [ ! -f '${gate}' ]; do sleep 0.05; done; for i in 1 2 3; do echo line$i; sleep 0.3; done`,
    });
    const { events, contentType } = await follow(id, 'follow=1', () => writeFileSync(gate, ''));
    expect(contentType).toMatch(/^text\/event-stream/);

    const outputs = events.filter((e) => e.event === 'output');
    expect(outputs.map((e) => e.data.data).join('')).toBe('line1\nline2\nline3\n');
    for (const o of outputs) {
      expect(o.data).toMatchObject({ attempt: 1, stream: 'stdout' });
      expect(Number(o.id)).toBe(o.data.id);
    }
    // Ids only grow.
    const ids = outputs.map((o) => o.data.id as number);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    // Live: line1 arrived while the task was still going, before its final status.
    const firstOutput = events.findIndex((e) => e.event === 'output');
    const finalStatus = events.findIndex((e) => e.event === 'status' && e.data.status === 'completed');
    expect(firstOutput).toBeGreaterThanOrEqual(0);
    expect(events[0]?.event).toBe('status');
    if (finalStatus >= 0) expect(firstOutput).toBeLessThan(finalStatus);
    const statuses = events.filter((e) => e.event === 'status').map((e) => e.data.status);
    expect(statuses.some((s) => s !== 'completed')).toBe(true);

    const end = events.at(-1)!;
    expect(end.event).toBe('end');
    expect(end.data).toMatchObject({ taskId: id, status: 'completed', exitCode: 0 });
    expect(events.filter((e) => e.event === 'end')).toHaveLength(1);
  });

  it('replays everything at once for a finished task', async () => {
    const id = await createTask(t, { command: 'echo out; echo err >&2; exit 2' });
    await waitForEnd(t, id);
    const { events } = await follow(id);
    expect(events.map((e) => e.event)).toEqual(['output', 'output', 'status', 'end']);
    const streams = Object.fromEntries(
      events.filter((e) => e.event === 'output').map((e) => [e.data.stream, e.data.data]),
    );
    expect(streams).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    expect(events[2]?.data).toEqual({ status: 'failed' });
    expect(events[3]?.data).toMatchObject({ taskId: id, status: 'failed', exitCode: 2 });
  });

  it('resumes after a given chunk id', async () => {
    // Two streams: never merged into one chunk.
    const id = await createTask(t, { command: 'echo a; sleep 0.3; echo b >&2' });
    await waitForEnd(t, id);
    const all = await t.api('GET', `/tasks/${id}/logs`);
    const first = all.body.chunks[0];
    expect(first.data).toBe('a\n');
    const { events } = await follow(id, `follow=1&after=${first.id}`);
    expect(events.filter((e) => e.event === 'output').map((e) => e.data.data)).toEqual(['b\n']);
  });

  it('without follow answers a page of chunks with next and done', async () => {
    const id = await createTask(t, { command: 'echo one; sleep 0.3; echo two >&2' });
    await waitForEnd(t, id);
    const page = await t.api('GET', `/tasks/${id}/logs?limit=1`);
    expect(page.body).toMatchObject({ status: 'completed', done: false });
    expect(page.body.chunks).toHaveLength(1);
    const rest = await t.api('GET', `/tasks/${id}/logs?after=${page.body.next}`);
    expect(rest.body.chunks.map((c: { data: string }) => c.data)).toEqual(['two\n']);
    expect(rest.body.done).toBe(true);
  });

  it('refuses a bad follow value', async () => {
    const id = await createTask(t, { command: 'true' });
    expectErrorBody(await t.api('GET', `/tasks/${id}/logs?follow=yes`), 400, 'VALIDATION_FAILED');
  });
});
