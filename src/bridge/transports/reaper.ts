import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const FILE = 'process-groups.json';

/**
 * Remembers the process groups a local transport started, so that a bridge
 * restarted after a crash (kill -9) can stop commands its previous run left
 * behind: their attempts were already given up by the lease rules and retried
 * elsewhere. The list lives in memory and is written to one file in the
 * background (coalesced), so starting a command costs no disk write.
 */
export class ProcessGroupRecord {
  private readonly groups = new Map<number, string>();
  private writing: Promise<void> | null = null;
  private dirty = false;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  add(pid: number): void {
    const start = processStartTicks(pid);
    if (start === null) return;
    this.groups.set(pid, start);
    this.save();
  }

  remove(pid: number): void {
    if (this.groups.delete(pid)) this.save();
  }

  private save(): void {
    this.dirty = true;
    this.writing ??= (async () => {
      while (this.dirty) {
        this.dirty = false;
        await writeFile(join(this.dir, FILE), JSON.stringify([...this.groups]), { mode: 0o600 }).catch(
          () => {},
        );
      }
      this.writing = null;
    })();
  }

  /** Kills every recorded group whose leader is still the same process; returns how many. */
  reapLeftovers(): number {
    let killed = 0;
    for (const [pid, recorded] of readRecorded(this.dir)) {
      if (!Number.isInteger(pid) || pid <= 1) continue;
      // A recycled pid belongs to someone else: only a matching start time is ours.
      if (processStartTicks(pid) !== recorded) continue;
      try {
        process.kill(-pid, 'SIGKILL');
        killed += 1;
      } catch {
        // Already gone.
      }
    }
    rmSync(join(this.dir, FILE), { force: true });
    return killed;
  }
}

function readRecorded(dir: string): [number, string][] {
  const entries: [number, string][] = [];
  const file = join(dir, FILE);
  if (existsSync(file)) {
    try {
      entries.push(...(JSON.parse(readFileSync(file, 'utf8')) as [number, string][]));
    } catch {
      // A torn write after a crash: nothing usable in it.
    }
  }
  // Earlier versions kept one file per process group.
  for (const name of readdirSync(dir)) {
    if (!/^\d+$/.test(name)) continue;
    entries.push([Number(name), readFileSync(join(dir, name), 'utf8')]);
    rmSync(join(dir, name), { force: true });
  }
  return entries;
}

/** The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or null. */
function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
