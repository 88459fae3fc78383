import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, REPO, rediacc } from '../helpers/cli.js';
import { ADMIN_TOKEN, startTestServer, type TestServer, waitFor } from '../helpers/server.js';

// `rediacc queue stats` (once, as JSON, and with --watch) against a real server.
// No bridge runs: waiting tasks stay where they are, so the numbers are exact.

describe('rediacc queue stats', () => {
  let t: TestServer;
  let env: Record<string, string>;
  const cli = (...args: string[]) => rediacc(args, { env });

  beforeAll(async () => {
    t = await startTestServer({ bridge: false });
    env = { REDIACC_URL: t.url, REDIACC_TOKEN: ADMIN_TOKEN };
    expect((await t.api('POST', '/machines', { name: 'q-1', concurrency: 1 })).status).toBe(201);
    expect((await t.api('POST', '/machines', { name: 'q-2', concurrency: 1 })).status).toBe(201);
    const tasks = [
      ...Array.from({ length: 5 }, () => ({ machine: 'q-1', command: 'true', priority: 1 })),
      ...Array.from({ length: 3 }, () => ({ machine: 'q-1', command: 'true', priority: 3 })),
      { machine: 'q-2', command: 'true', priority: 5 },
    ];
    expect((await t.api('POST', '/tasks', { tasks })).status).toBe(201);
  });
  afterAll(async () => {
    await t.close();
  });

  it('-o json prints the API’s stats', async () => {
    const r = await cli('queue', 'stats', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      pending: { 1: 5, 2: 0, 3: 3, 4: 0, 5: 1 },
      pendingTotal: 9,
      running: 0,
      retrying: 0,
      lanes: [
        { team: 'default', priority: 1, pending: 5 },
        { team: 'default', priority: 3, pending: 3 },
        { team: 'default', priority: 5, pending: 1 },
      ],
      busiestMachines: [
        { machine: 'q-1', team: 'default', running: 0, pending: 8, concurrency: 1 },
        { machine: 'q-2', team: 'default', running: 0, pending: 1, concurrency: 1 },
      ],
    });
    expect(s.oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
    expect(s.oldestPendingAgeMsByPriority['2']).toBeNull();
    const top = JSON.parse((await cli('queue', 'stats', '--top', '1', '-o', 'json')).stdout);
    expect(top.busiestMachines.map((m: { machine: string }) => m.machine)).toEqual(['q-1']);
  });

  it('prints pending per priority, totals, the busiest machines and (asked) the lanes per team', async () => {
    const r = await cli('queue', 'stats', '--by-team');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^PRIORITY\s+PENDING\s+OLDEST$/);
    expect(lines.find((l) => l.startsWith('1 (critical)'))).toMatch(/^1 \(critical\)\s+5\s+\d+s$/);
    expect(lines.find((l) => l.startsWith('2 (high)'))).toMatch(/^2 \(high\)\s+0\s+-$/);
    expect(r.stdout).toContain(
      'pending 9, running 0 (0 starting), retrying 0, cancelling 0, oldest waiting ',
    );
    expect(lines.find((l) => l.startsWith('q-1'))).toMatch(/^q-1\s+default\s+0\/1\s+8$/);
    expect(lines.find((l) => l.startsWith('TEAM'))).toMatch(
      /^TEAM\s+PRIORITY\s+PENDING\s+RETRYING\s+RUNNING$/,
    );
    expect(lines.filter((l) => l.startsWith('default '))).toHaveLength(3);
  });

  it('refuses bad flags with exit code 2', async () => {
    for (const args of [
      ['--top', '0'],
      ['--top', '101'],
      ['--top', 'ten'],
      ['--interval', '1'],
      ['--watch', '--interval', '0'],
      ['--watch', '--interval', 'soon'],
    ]) {
      const r = await cli('queue', 'stats', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--top|--interval/);
      expect(r.stdout).toBe('');
    }
  });

  /**
   * Runs `queue stats --watch …`: once `first(stdout)` holds, calls `between`; once `enough(stdout)`
   * holds, sends SIGINT. Returns what it printed and its exit code.
   */
  async function watchUntil(
    args: string[],
    first: (out: string) => boolean,
    enough: (out: string) => boolean,
    between?: () => Promise<void>,
  ) {
    const child = spawn(process.execPath, [BIN, 'queue', 'stats', '--watch', '--interval', '0.3', ...args], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        XDG_CONFIG_HOME: mkdtempSync(join(tmpdir(), 'rediacc-config-')),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(async () => (first(out) ? true : undefined), 15_000);
      await between?.();
      await waitFor(async () => (enough(out) ? true : undefined), 15_000);
    } finally {
      child.kill('SIGINT');
    }
    const code = await exited;
    return { code, out, err };
  }

  it('--watch redraws in place until Ctrl-C, and shows changes', async () => {
    const { code, out, err } = await watchUntil(
      [],
      (o) => o.includes('pending 9,'),
      (o) => o.includes('pending 10,'),
      async () => {
        expect((await t.api('POST', '/tasks', { machine: 'q-2', command: 'true', priority: 2 })).status).toBe(
          201,
        );
      },
    );
    expect(err).toBe('');
    expect(code).toBe(0);
    // The first frame clears the screen; later ones go home and overwrite, clearing what is left below.
    expect(out.startsWith('\u001b[?25l\u001b[2J\u001b[H')).toBe(true);
    const frames = out.split('\u001b[H').slice(1);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const f of frames) {
      expect(f.split('\n')[0]).toMatch(/^queue stats at .+, every 0\.3s \(Ctrl-C to stop\)/);
      expect(f.split('\n')[0]?.endsWith('\u001b[K')).toBe(true);
      expect(f).toContain('\u001b[J');
    }
    expect(frames[0]).toContain('pending 9,');
    expect(frames.at(-1)).toContain('pending 10,');
    // The cursor is shown again on the way out.
    expect(out.endsWith('\u001b[?25h')).toBe(true);
  });

  it('--watch -o json prints one JSON document per line per refresh', async () => {
    const { code, out } = await watchUntil(
      ['-o', 'json'],
      (o) => o.includes('\n'),
      (o) => o.split('\n').length > 3,
    );
    expect(code).toBe(0);
    const docs = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(docs.length).toBeGreaterThanOrEqual(3);
    for (const d of docs) {
      expect(d.pendingTotal).toBe(10);
      expect(Date.parse(d.at)).not.toBeNaN();
    }
    expect(out).not.toContain('\u001b');
  });
});
