// Process-table helpers over /proc (Linux only), used to find and signal everything a fleet sshd
// spawned. Needed because sshd puts each connection in its own session (setsid), so signalling
// the listener's process group would miss the connection handlers and the commands they run.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Kernel start time in clock ticks: together with pid it identifies a process despite pid reuse. */
  startTime: string;
  state: string;
}

function readStat(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0] ?? '?';
  return { pid, ppid: Number(fields[1]), startTime: fields[19] ?? '', state };
}

export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readStat(Number(entry));
    if (info !== undefined) out.push(info);
  }
  return out;
}

/** The process itself (when alive) and all its descendants, from one snapshot of /proc. */
export function processTree(rootPid: number, table: ProcInfo[] = listProcesses()): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  for (const p of table) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const root = table.find((p) => p.pid === rootPid);
  const out: ProcInfo[] = root === undefined ? [] : [root];
  const queue = [rootPid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

/**
 * Processes whose environment contains every given NAME=VALUE entry. Commands run through a fleet
 * sshd inherit its SetEnv variables, so this also finds commands that detached (nohup, setsid, &)
 * and were re-parented away from the sshd tree.
 */
export function processesWithEnv(entries: string[], table: ProcInfo[] = listProcesses()): ProcInfo[] {
  return table.filter((p) => {
    let env: string[];
    try {
      env = readFileSync(`/proc/${p.pid}/environ`, 'latin1').split('\0');
    } catch {
      return false;
    }
    return entries.every((e) => env.includes(e));
  });
}

/** Alive = same process still there and not a zombie waiting to be reaped. */
export function isAlive(p: ProcInfo): boolean {
  const now = readStat(p.pid);
  return now !== undefined && now.startTime === p.startTime && now.state !== 'Z';
}

/** The process as it is now (pid + start time), e.g. to record who owns a fleet. */
export function processInfo(pid: number): ProcInfo | undefined {
  return readStat(pid);
}

/** The command line with NULs as spaces; '' when the process is gone. */
export function processCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** One-letter state from /proc/PID/stat ('R', 'S', 'T' for stopped, 'Z'…); undefined when gone. */
export function processState(pid: number): string | undefined {
  return readStat(pid)?.state;
}

export function signalAll(procs: ProcInfo[], signal: NodeJS.Signals): void {
  for (const p of procs) {
    if (!isAlive(p)) continue;
    try {
      process.kill(p.pid, signal);
    } catch {
      // Exited between the check and the signal: nothing to do.
    }
  }
}

/** Merges process lists, dropping duplicates by pid. */
export function uniqueProcs(...lists: ProcInfo[][]): ProcInfo[] {
  const seen = new Map<number, ProcInfo>();
  for (const list of lists) for (const p of list) seen.set(p.pid, p);
  return [...seen.values()];
}

/** Polls until none of the processes is alive; returns those still alive at the deadline. */
export async function waitAllGone(procs: ProcInfo[], timeoutMs: number): Promise<ProcInfo[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = procs.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    alive = alive.filter(isAlive);
  }
  return alive;
}
