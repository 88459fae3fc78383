// Reporting helpers shared by the postgres and soak benchmarks: the machine, its load, a figures
// table, scenario selection. (dispatch.mjs and fleet.mjs keep their own copies.)
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';

export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: availableParallelism(),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  };
}

/** The 1, 5 and 15 minute load averages from /proc/loadavg, e.g. "1.52 1.10 0.80". */
export function loadavg() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** CPU ticks used by the whole machine and by this process with its reaped descendants. */
export function cpuTicks() {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  // utime, stime, cutime, cstime: fields 14-17 of /proc/self/stat, i.e. 12-15 after "pid (comm) ".
  const own = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ').map(Number);
  return { busy: user + nice + system + irq + softirq + steal, mine: own[11] + own[12] + own[13] + own[14] };
}

/**
 * Share (%) of the machine's CPU used between two snapshots by processes that are neither this
 * one nor its reaped children. PostgreSQL's backends are not our children: they count here too.
 */
export function othersCpuPct(a, b, wallMs, cores) {
  const ticks = b.busy - a.busy - (b.mine - a.mine);
  return Math.max(0, Math.round((ticks / ((wallMs / 1000) * 100 * cores)) * 100));
}

/** A markdown table of { figure, value, target, ok } rows; ok null = no target. */
export function table(rows) {
  const head = ['figure', 'value', 'target', 'verdict'];
  const cells = rows.map((r) => [
    r.figure,
    r.value,
    r.target ?? '',
    r.ok == null ? '' : r.ok ? 'met' : 'NOT MET',
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((x, i) => x.padEnd(width[i])).join(' | ')} |`;
  return [line(head), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

/** The scenarios named by --only (all when absent); exits 2 naming the valid ones on a bad name. */
export function selectScenarios(only, scenarios) {
  const wanted = only === undefined ? Object.keys(scenarios) : only.split(',').map((s) => s.trim());
  const unknown = wanted.filter((w) => !(w in scenarios));
  if (unknown.length > 0 || wanted.length === 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}\navailable:\n`);
    for (const [n, s] of Object.entries(scenarios)) process.stderr.write(`  ${n.padEnd(11)} ${s.about}\n`);
    process.exit(2);
  }
  return wanted;
}

/** A positive integer option, or exit 2 with a message. */
export function positiveInt(value, flag, max) {
  const n = Number(value);
  if (!/^[0-9]+$/.test(String(value)) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    process.stderr.write(`${flag} must be an integer from 1 to ${max}, got '${value}'\n`);
    process.exit(2);
  }
  return n;
}

export const fmt = (n) => Math.round(n).toLocaleString('en');
