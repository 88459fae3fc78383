import { PRIORITY_LABELS, type Priority } from '../core/types.js';
import { usage } from './errors.js';

export type Format = 'text' | 'json';

export function parseFormat(value: string | undefined): Format {
  const f = value ?? 'text';
  if (f !== 'text' && f !== 'json') throw usage(`--output must be text or json, got '${f}'`);
  return f;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** An aligned table with a header row; null and undefined print as '-'. */
export function printTable(headers: string[], rows: unknown[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(cell))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] as string).length)));
  const lines = cells.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : (c as string).padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Key/value lines for one resource. */
export function printFields(fields: [string, unknown][]): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  process.stdout.write(`${fields.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${cell(v)}`).join('\n')}\n`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function priorityText(p: number): string {
  return `${p} (${PRIORITY_LABELS[p as Priority] ?? '?'})`;
}

/** "3s ago", "2m ago" style ages for tables. */
export function age(isoTime: string | null, now = Date.now()): string | null {
  if (isoTime === null) return null;
  return `${duration(now - Date.parse(isoTime))} ago`;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 > 0 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

export function truncate(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}
