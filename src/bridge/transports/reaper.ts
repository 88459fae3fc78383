import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Remembers the process groups a local transport started, one file each, so
 * that a bridge restarted after a crash (kill -9) can stop commands its
 * previous run left behind: their attempts were already given up by the
 * lease rules and retried elsewhere.
 */
export class ProcessGroupRecord {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  add(pid: number): void {
    const start = processStartTicks(pid);
    if (start !== null) writeFileSync(join(this.dir, String(pid)), start);
  }

  remove(pid: number): void {
    rmSync(join(this.dir, String(pid)), { force: true });
  }

  /** Kills every recorded group whose leader is still the same process; returns how many. */
  reapLeftovers(): number {
    let killed = 0;
    for (const name of readdirSync(this.dir)) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid <= 1) continue;
      const recorded = readFileSync(join(this.dir, name), 'utf8');
      // A recycled pid belongs to someone else: only a matching start time is ours.
      if (processStartTicks(pid) === recorded) {
        try {
          process.kill(-pid, 'SIGKILL');
          killed += 1;
        } catch {
          // Already gone.
        }
      }
      this.remove(pid);
    }
    return killed;
  }
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
