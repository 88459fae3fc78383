// Leftovers of fleets whose test process died without close(): sshd listeners die with their
// parent (pdeathsig, see sshd.ts), but commands left running on a machine and the temp directory
// stay. Every startFleet sweeps them, so a crashed run is cleaned up by the next one.
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isAlive,
  listProcesses,
  processCmdline,
  processesWithEnv,
  processInfo,
  signalAll,
  uniqueProcs,
} from './proc.js';

export const FLEET_DIR_PREFIX = 'rdc-fleet-';
const OWNER_FILE = 'owner.json';
/** A directory without owner file younger than this may be a fleet being created right now. */
const UNOWNED_GRACE_MS = 60_000;

interface Owner {
  pid: number;
  startTime: string;
  id: string;
}

/** Records the current process as the owner of the fleet in `dir`. */
export function writeOwner(dir: string, id: string): void {
  const self = processInfo(process.pid);
  const owner: Owner = { pid: process.pid, startTime: self?.startTime ?? '', id };
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner));
}

function readOwner(dir: string): Owner | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

export function sweepStaleFleets(): void {
  const root = tmpdir();
  for (const entry of readdirSync(root)) {
    if (!entry.startsWith(FLEET_DIR_PREFIX)) continue;
    const dir = join(root, entry);
    const owner = readOwner(dir);
    if (owner === undefined) {
      let age = 0;
      try {
        age = Date.now() - statSync(dir).mtimeMs;
      } catch {
        continue;
      }
      if (age < UNOWNED_GRACE_MS) continue;
    } else if (isAlive({ pid: owner.pid, ppid: 0, startTime: owner.startTime, state: '' })) {
      continue;
    }
    const table = listProcesses();
    const tagged = owner === undefined ? [] : processesWithEnv([`RDC_FLEET_ID=${owner.id}`], table);
    // sshd listeners show their config path (…/rdc-fleet-X/fleet-01/sshd_config) in the cmdline.
    const listeners = table.filter((p) => processCmdline(p.pid).includes(`${dir}/`));
    signalAll(uniqueProcs(tagged, listeners), 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
