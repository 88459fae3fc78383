import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { createTask, waitForEnd, waitForStatus } from './helpers/tasks.js';

let t: TestServer;
let dir: string;
beforeAll(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'rediacc-order-'));
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A command that holds its slot until `gate` exists (at most a minute). */
const gated = (gate: string) =>
  `i=0; while [ ! -f '${gate}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`;

async function serialMachine(name: string): Promise<void> {
  const res = await t.api('POST', '/machines', { name, concurrency: 1 });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body).toMatchObject({ name, concurrency: 1, transport: 'local', region: 'default' });
}

const lines = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

describe('priority order on a machine with concurrency 1', () => {
  it('runs waiting tasks by priority, first in first out within one', async () => {
    await serialMachine('serial-a');
    const gate = join(dir, 'gate-a');
    const file = join(dir, 'order-a.txt');
    const blocker = await createTask(t, { machine: 'serial-a', command: gated(gate) });
    await waitForStatus(t, blocker, 'running');

    const queued: string[] = [];
    for (const [label, priority] of [
      ['p5', 5],
      ['p3a', 3],
      ['p4', 4],
      ['p3b', 3],
      ['p2', 2],
      ['p3c', 'normal'],
    ] as const) {
      queued.push(
        await createTask(t, { machine: 'serial-a', priority, command: `echo ${label} >> '${file}'` }),
      );
    }
    // All wait behind the blocker.
    for (const id of queued) expect((await t.api('GET', `/tasks/${id}`)).body.status).toBe('pending');
    const machine = await t.api('GET', '/machines/serial-a');
    expect(machine.body).toMatchObject({ running: 1, pending: 6 });

    writeFileSync(gate, '');
    await waitForEnd(t, blocker);
    for (const id of queued) expect((await waitForEnd(t, id)).status).toBe('completed');
    expect(lines(file)).toEqual(['p2', 'p3a', 'p3b', 'p3c', 'p4', 'p5']);
  });

  it('starts a priority-1 task at once while the only slot is busy, but not a priority-2 one', async () => {
    await serialMachine('serial-b');
    const gate = join(dir, 'gate-b');
    const file = join(dir, 'order-b.txt');
    const blocker = await createTask(t, { machine: 'serial-b', command: gated(gate) });
    await waitForStatus(t, blocker, 'running');

    const high = await createTask(t, { machine: 'serial-b', priority: 2, command: `echo high >> '${file}'` });
    const critical = await createTask(t, {
      machine: 'serial-b',
      priority: 'critical',
      command: `echo critical >> '${file}'`,
    });
    const done = await waitForEnd(t, critical);
    expect(done.status).toBe('completed');
    // The critical task ran beside the blocker; the priority-2 task still waits for the slot.
    expect((await t.api('GET', `/tasks/${blocker}`)).body.status).toBe('running');
    expect((await t.api('GET', `/tasks/${high}`)).body.status).toBe('pending');
    expect(lines(file)).toEqual(['critical']);

    writeFileSync(gate, '');
    expect((await waitForEnd(t, high)).status).toBe('completed');
    expect(lines(file)).toEqual(['critical', 'high']);
  });
});
