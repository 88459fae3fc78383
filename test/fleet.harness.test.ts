// Checks the SSH test fleet harness itself against real sshd processes (test/fleet/).
// The tests share one fleet of 3 and run in order; each leaves every machine running.
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Fleet, startFleet } from './fleet/fleet.js';
import {
  processCmdline as cmdline,
  isAlive,
  listProcesses,
  type ProcInfo,
  processesWithEnv,
} from './fleet/proc.js';

const run = promisify(execFile);

/** Processes started through the fleet's sshd (they carry its SetEnv variables). */
function sessionProcs(fleet: Fleet, machine?: string): ProcInfo[] {
  const tags = [`RDC_FLEET_ID=${fleet.id}`];
  if (machine !== undefined) tags.push(`RDC_FLEET_MACHINE=${machine}`);
  return processesWithEnv(tags);
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The host key the server really presents, as "ssh-ed25519 AAAA…". */
async function scanHostKey(host: string, port: number): Promise<string> {
  const { stdout } = await run('ssh-keyscan', ['-T', '3', '-t', 'ed25519', '-p', String(port), host]);
  const line = stdout.split('\n').find((l) => l.includes('ssh-ed25519'));
  return line?.split(' ').slice(1, 3).join(' ') ?? '';
}

const keyOnly = (publicKeyLine: string) => publicKeyLine.split(' ').slice(0, 2).join(' ');

describe('SSH test fleet', () => {
  let fleet: Fleet;

  beforeAll(async () => {
    fleet = await startFleet({ size: 3 });
  });
  afterAll(async () => {
    await fleet?.close();
  });

  test('every machine answers from its own address, port and name', async () => {
    expect(fleet.machines.map((m) => m.name)).toEqual(['fleet-01', 'fleet-02', 'fleet-03']);
    expect(fleet.machines.map((m) => m.host)).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect(new Set(fleet.machines.map((m) => m.port)).size).toBe(3);
    const answers = await Promise.all(
      fleet.machines.map((m) =>
        fleet.exec(m.name, 'echo $SSH_CONNECTION; echo $RDC_FLEET_MACHINE; echo $HOME'),
      ),
    );
    fleet.machines.forEach((m, i) => {
      const answer = answers[i]!;
      expect(answer.code, answer.stderr).toBe(0);
      const [connection, name, home] = answer.stdout.trim().split('\n');
      // SSH_CONNECTION = "client-ip client-port server-ip server-port"
      expect(connection?.split(' ').slice(2)).toEqual([m.host, String(m.port)]);
      expect(name).toBe(m.name);
      expect(home).toBe(m.home);
      expect(m.user).toBe('rdctest');
    });
  });

  test('host keys: the presented key, its fingerprint as ssh-keygen prints it', async () => {
    for (const m of fleet.machines) {
      expect(m.hostKeyPublic).toMatch(/^ssh-ed25519 AAAA/);
      expect(await scanHostKey(m.host, m.port)).toBe(keyOnly(m.hostKeyPublic));
      const { stdout } = await run('ssh-keygen', ['-lf', join(m.dir, 'ssh_host_ed25519_key.pub')]);
      expect(stdout.split(' ')[1]).toBe(m.hostKeyFingerprint);
    }
    expect(new Set(fleet.machines.map((m) => m.hostKeyFingerprint)).size).toBe(3);
  });

  test('client key and per-machine authorized_keys', async () => {
    expect(statSync(fleet.clientKeyFile).mode & 0o777).toBe(0o600);
    expect(fleet.clientKeyPrivate).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(fleet.clientKeyPublic).toMatch(/^ssh-ed25519 /);
    for (const m of fleet.machines) expect(fleet.authorizedKeys(m.name)).toContain(fleet.clientKeyPublic);

    const saved = fleet.authorizedKeys('fleet-02');
    fleet.setAuthorizedKeys('fleet-02', '');
    try {
      const refused = await fleet.exec('fleet-02', 'true');
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/Permission denied/);
      expect((await fleet.exec('fleet-01', 'true')).code).toBe(0);
    } finally {
      fleet.setAuthorizedKeys('fleet-02', saved);
    }
    expect((await fleet.exec('fleet-02', 'true')).code).toBe(0);
  });

  test('pause makes connections hang (bounded by ConnectTimeout); resume brings it back', async () => {
    await fleet.pause('fleet-02');
    try {
      expect(fleet.machine('fleet-02').state).toBe('paused');
      const hung = await fleet.exec('fleet-02', 'true', { connectTimeoutSec: 1, timeoutMs: 5000 });
      expect(hung.code).not.toBe(0);
      expect(hung.durationMs).toBeLessThan(4000);
      expect((await fleet.exec('fleet-03', 'true')).code).toBe(0);
    } finally {
      await fleet.resume('fleet-02');
    }
    const back = await fleet.exec('fleet-02', 'echo $RDC_FLEET_MACHINE');
    expect(back.stdout.trim()).toBe('fleet-02');
  });

  test('regenerateHostKey serves a new host key on the same address and port', async () => {
    const m = fleet.machine('fleet-03');
    const { hostKeyPublic: oldKey, hostKeyFingerprint: oldPrint, pid: oldPid, port } = m;
    await fleet.regenerateHostKey('fleet-03');
    expect(m.hostKeyPublic).not.toBe(oldKey);
    expect(m.hostKeyFingerprint).not.toBe(oldPrint);
    expect(m.pid).not.toBe(oldPid);
    expect(m.port).toBe(port);
    expect(await scanHostKey(m.host, m.port)).toBe(keyOnly(m.hostKeyPublic));
    expect((await fleet.exec('fleet-03', 'true')).code).toBe(0);
  });

  test('stop takes the machine down with its sessions; restart keeps address and host key', async () => {
    const m = fleet.machine('fleet-01');
    const { hostKeyPublic, port } = m;
    const longRunning = fleet.exec('fleet-01', 'sleep 30', { timeoutMs: 20_000 });
    await fleet.exec('fleet-01', 'sleep 31 </dev/null >/dev/null 2>&1 &'); // detached from ssh
    const sleepers = () => sessionProcs(fleet, 'fleet-01').filter((p) => /^sleep 3[01]/.test(cmdline(p.pid)));
    await waitFor('both sleeps to run', () => sleepers().length === 2);

    await fleet.stop('fleet-01');
    expect(m.state).toBe('stopped');
    const cut = await longRunning;
    expect(cut.timedOut).toBe(false);
    expect(cut.code).not.toBe(0);
    expect(sessionProcs(fleet, 'fleet-01')).toEqual([]);
    const refused = await fleet.exec('fleet-01', 'true', { connectTimeoutSec: 2 });
    expect(refused.code).toBe(255);
    expect(refused.stderr).toMatch(/refused/i);

    await fleet.restart('fleet-01');
    expect(m.state).toBe('running');
    expect(m.port).toBe(port);
    expect(m.hostKeyPublic).toBe(hostKeyPublic);
    expect(await scanHostKey(m.host, m.port)).toBe(keyOnly(hostKeyPublic));
    expect((await fleet.exec('fleet-01', 'echo $RDC_FLEET_MACHINE')).stdout.trim()).toBe('fleet-01');
  });

  test('stop with keepProcesses leaves running commands alone', async () => {
    await fleet.exec('fleet-02', 'sleep 32 </dev/null >/dev/null 2>&1 &');
    const sleeper = () => sessionProcs(fleet, 'fleet-02').filter((p) => cmdline(p.pid) === 'sleep 32');
    await waitFor('the sleep to run', () => sleeper().length === 1);
    await fleet.stop('fleet-02', { keepProcesses: true });
    expect(sleeper()).toHaveLength(1);
    await fleet.restart('fleet-02');
    expect((await fleet.exec('fleet-02', 'true')).code).toBe(0);
    // The sleep is still there: the next test checks close() ends it.
  });

  test('close() leaves no process of the fleet and removes its directory', async () => {
    const listeners = fleet.machines.map((m) => m.pid);
    const before = sessionProcs(fleet);
    expect(before.length).toBeGreaterThan(0); // at least the "sleep 32" left by the previous test
    const table = listProcesses();
    const ours = table.filter((p) => listeners.includes(p.pid) || before.some((b) => b.pid === p.pid));

    await fleet.close();

    expect(ours.filter(isAlive)).toEqual([]);
    expect(sessionProcs(fleet)).toEqual([]);
    const mentioningDir = listProcesses().filter((p) => cmdline(p.pid).includes(fleet.dir));
    expect(mentioningDir).toEqual([]);
    expect(existsSync(fleet.dir)).toBe(false);
    await fleet.close(); // idempotent
  });
});
