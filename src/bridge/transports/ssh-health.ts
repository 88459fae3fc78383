/** What a health probe reads on a machine, parsed. Pure. */
export interface HealthSample {
  cpuPercent: number | null;
  load1: number | null;
  memUsedBytes: number | null;
  memTotalBytes: number | null;
  diskUsedBytes: number | null;
  diskTotalBytes: number | null;
}

/** Two reads of /proc/stat 0.2 s apart, loadavg, meminfo and df of /, separated by markers. */
export const HEALTH_COMMAND =
  "head -1 /proc/stat; sleep 0.2; head -1 /proc/stat; echo '--'; cat /proc/loadavg; echo '--'; " +
  "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; echo '--'; df -Pk / | tail -1";

function cpuTimes(line: string | undefined): { idle: number; total: number } | null {
  if (line === undefined || !line.startsWith('cpu ')) return null;
  const n = line.trim().split(/\s+/).slice(1).map(Number);
  if (n.length < 4 || n.some((x) => !Number.isFinite(x))) return null;
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return { idle, total: n.reduce((a, b) => a + b, 0) };
}

export function parseHealth(output: string): HealthSample {
  const [stat = '', load = '', mem = '', disk = ''] = output.split(/^--$/m).map((s) => s.trim());
  const [a, b] = stat.split('\n').map(cpuTimes);
  let cpuPercent: number | null = null;
  if (a && b && b.total > a.total)
    cpuPercent = Math.round((1 - (b.idle - a.idle) / (b.total - a.total)) * 1000) / 10;
  const load1 = Number(load.split(/\s+/)[0]);
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(mem);
    return m === null ? null : Number(m[1]) * 1024;
  };
  const memTotal = kb('MemTotal');
  const memAvailable = kb('MemAvailable');
  const d = disk.split(/\s+/);
  const diskTotal = Number(d[1]) * 1024;
  const diskUsed = Number(d[2]) * 1024;
  return {
    cpuPercent,
    load1: Number.isFinite(load1) ? load1 : null,
    memUsedBytes: memTotal !== null && memAvailable !== null ? memTotal - memAvailable : null,
    memTotalBytes: memTotal,
    diskUsedBytes: Number.isFinite(diskUsed) ? diskUsed : null,
    diskTotalBytes: Number.isFinite(diskTotal) ? diskTotal : null,
  };
}
