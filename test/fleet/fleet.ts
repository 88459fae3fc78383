// SSH test fleet: N real OpenSSH sshd processes, one per loopback address (127.0.0.2, .3, …),
// each with its own port, host key, config and authorized_keys; all let in the `rdctest` user
// with one shared client key. Tests use it to exercise SSH transports against real servers.
//
//   const fleet = await startFleet({ size: 3 });
//   try { … await fleet.exec('fleet-01', 'echo $RDC_FLEET_MACHINE') … } finally { await fleet.close(); }
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from './keys.js';
import { Machine } from './machine.js';
import { sshExec } from './ssh-exec.js';
import { findFreePort } from './sshd.js';
import { FLEET_DIR_PREFIX, sweepStaleFleets, writeOwner } from './stale.js';
import { ensureTestUser, type TestUser } from './test-user.js';
import type { Fleet, FleetOptions } from './types.js';

export { ensureTestUser, TEST_USER } from './test-user.js';
export type * from './types.js';

const MAX_SIZE = 250;
const START_ATTEMPTS = 4;

/** 127.0.0.2 for index 0, … 127.0.0.251 for index 249. 127.0.0.1 stays for everything else. */
export function machineHost(index: number): string {
  return `127.0.0.${index + 2}`;
}

export function machineName(index: number, size: number): string {
  return `fleet-${String(index + 1).padStart(Math.max(2, String(size).length), '0')}`;
}

function createMachine(fleetId: string, dir: string, user: TestUser, index: number, size: number): Machine {
  const name = machineName(index, size);
  const machineDir = join(dir, name);
  const home = join(machineDir, 'home');
  return new Machine(
    {
      name,
      host: machineHost(index),
      port: 0, // chosen in startMachine
      configFile: join(machineDir, 'sshd_config'),
      hostKeyFile: join(machineDir, 'ssh_host_ed25519_key'),
      pidFile: join(machineDir, 'sshd.pid'),
      authorizedKeysFile: join(home, '.ssh', 'authorized_keys'),
      user: user.name,
      // HOME: sshd applies SetEnv after its own variables, so each machine gets its own $HOME
      // (the working directory stays the account's home, /home/rdctest).
      env: { RDC_FLEET_MACHINE: name, RDC_FLEET_ID: fleetId, HOME: home },
    },
    user,
    home,
    machineDir,
  );
}

/**
 * First start: pick a free port and start; if another process took the port between the check
 * and sshd's bind (parallel test files), try the next free port.
 */
async function startMachine(machine: Machine, from: number, taken: Set<number>, readyMs: number) {
  let next = from;
  for (let attempt = 1; ; attempt++) {
    machine.info.port = await findFreePort(machine.info.host, next, taken);
    try {
      await machine.start(readyMs);
      return;
    } catch (e) {
      const bindFailed = /Address already in use|Cannot bind/i.test((e as Error).message);
      if (!bindFailed || attempt >= START_ATTEMPTS) throw e;
      next = machine.info.port + 1;
    }
  }
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const { size } = options;
  if (!Number.isInteger(size) || size < 1 || size > MAX_SIZE) {
    throw new Error(`fleet: size must be an integer in 1..${MAX_SIZE}, got ${size}`);
  }
  const readyMs = options.readyTimeoutMs ?? 10_000;
  const user = await ensureTestUser();
  const id = randomBytes(4).toString('hex');
  sweepStaleFleets();
  const dir = mkdtempSync(join(tmpdir(), FLEET_DIR_PREFIX));
  writeOwner(dir, id);
  // Traversable by the test user: sshd reads authorized_keys, and sessions use $HOME, as rdctest.
  chmodSync(dir, 0o755);
  const machines = Array.from({ length: size }, (_, i) => createMachine(id, dir, user, i, size));
  const byName = new Map(machines.map((m) => [m.info.name, m]));

  // A test process that exits without close() (forgotten afterAll, process.exit) cleans up here:
  // 'exit' handlers may only do synchronous work, which this is. When it is killed instead, its
  // sshd listeners die with it (pdeathsig) and the next startFleet sweeps the rest (stale.ts).
  const killAll = () => {
    for (const m of machines) m.killNow();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', killAll);

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      await Promise.allSettled(machines.map((m) => m.stop()));
      killAll(); // anything stop() could not reach
      process.removeListener('exit', killAll);
    })();
    return closed;
  };

  try {
    const clientDir = join(dir, 'client');
    mkdirSync(clientDir, { mode: 0o700 });
    const client = await generateKey(join(clientDir, 'id_ed25519'), `rdc-fleet-${id}`);
    // Below 32768, where Linux starts handing out ephemeral ports for outgoing connections.
    const base = options.basePort ?? 20_000 + randomInt(0, 11_000);
    const taken = new Set<number>();
    await Promise.all(machines.map((m) => m.prepare(client.publicKey)));
    // All sshd start in parallel; machine i searches from base + i, so ports follow machine order.
    const results = await Promise.allSettled(
      machines.map((m, i) => startMachine(m, base + i, taken, readyMs)),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;

    const get = (name: string): Machine => {
      const m = byName.get(name);
      if (m === undefined) throw new Error(`fleet: no machine named ${name}`);
      return m;
    };
    return {
      id,
      dir,
      user: user.name,
      machines: machines.map((m) => m.info),
      clientKeyPrivate: client.privateKey,
      clientKeyPublic: client.publicKey,
      clientKeyFile: client.privateKeyFile,
      machine: (name) => get(name).info,
      stop: (name, stopOptions) => get(name).stop(stopOptions),
      pause: (name) => get(name).pause(),
      resume: (name) => get(name).resume(),
      restart: async (name) => {
        const m = get(name);
        await m.stop();
        await m.start(readyMs);
      },
      readKeysFrom: async (name, file) => {
        const m = get(name);
        await m.stop();
        m.spec.authorizedKeysFile = file;
        await m.start(readyMs);
      },
      regenerateHostKey: async (name) => {
        const m = get(name);
        await m.stop();
        await m.newHostKey();
        await m.start(readyMs);
      },
      exec: (name, command, execOptions) => {
        const { host, port } = get(name).info;
        return sshExec({ host, port, user: user.name, keyFile: client.privateKeyFile }, command, execOptions);
      },
      authorizedKeys: (name) => get(name).authorizedKeys(),
      setAuthorizedKeys: (name, content) => get(name).setAuthorizedKeys(content),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
