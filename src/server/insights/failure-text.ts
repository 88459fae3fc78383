import type { FailedTail } from '../../store/insight-store.js';

/**
 * Groups a batch's failures by what went wrong: the last line the failed
 * attempt printed (rediacc's own notes first, then stderr, then stdout), with
 * what differs from machine to machine (its name, addresses, ids, numbers)
 * replaced, so "connection refused to 10.0.0.7" on 300 machines is one group.
 */

const MAX_LINE_CHARS = 300;
/** The note the store adds when a task's output reached its cap: never the error. */
const CAP_NOTE = /^\[rediacc: output cap reached/;

/** The last non-empty line of a stream in the tail, or null. */
function lastLine(tail: FailedTail['tail'], streams: readonly string[]): string | null {
  const text = tail
    .filter((c) => streams.includes(c.stream))
    .map((c) => c.data)
    .join('');
  const lines = text.split(/\r?\n|\r/);
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const line = (lines[i] ?? '').trim();
    if (line !== '' && !CAP_NOTE.test(line)) return line.slice(0, MAX_LINE_CHARS);
  }
  return null;
}

/** What a failure says about itself: its error line, or its reason when it printed nothing. */
export function errorLine(t: Pick<FailedTail, 'tail' | 'reason' | 'exitCode' | 'signal'>): string {
  const line = lastLine(t.tail, ['system']) ?? lastLine(t.tail, ['stderr']) ?? lastLine(t.tail, ['stdout']);
  if (line !== null) return line;
  if (t.signal !== null) return `killed by ${t.signal}`;
  if (t.exitCode !== null) return `exit ${t.exitCode} without output`;
  return t.reason ?? 'failed without output';
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The line with what varies between machines replaced by placeholders. */
export function normaliseErrorLine(line: string, machine: string): string {
  let s = line;
  // The machine's name as a word of its own (`m` in "many" stays).
  if (machine !== '')
    s = s.replace(new RegExp(`(?<![\\w.-])${escapeRegExp(machine)}(?![\\w-])`, 'g'), '<machine>');
  return s
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>')
    .replace(/\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?/g, '<time>')
    .replace(/\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b/g, '<time>')
    .replace(/\b(\d{1,3}\.){3}\d{1,3}(:\d+)?\b/g, '<ip>')
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<hex>')
    .replace(/\d{2,}/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
}

export interface FailureGroup {
  /** The normalised error line: what the failures have in common. */
  pattern: string;
  /** One failure's own line, as printed. */
  example: string;
  /** The stable failure reasons in this group (EXIT_NONZERO, TIMEOUT…). */
  reasons: string[];
  exitCodes: number[];
  count: number;
  /** The first `maxTasks` failures of the group. */
  tasks: { taskId: string; machine: string }[];
}

/** Failures grouped by their normalised error line, the largest group first. */
export function groupFailures(failed: readonly FailedTail[], maxTasks = 100): FailureGroup[] {
  const groups = new Map<string, FailureGroup>();
  for (const f of failed) {
    const line = f.archived && f.tail.length === 0 ? 'output archived' : errorLine(f);
    const pattern = normaliseErrorLine(line, f.machine);
    // Different reasons are different failures even when they printed the same last line.
    const key = `${f.reason ?? ''}\u0000${pattern}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = { pattern, example: line, reasons: [], exitCodes: [], count: 0, tasks: [] };
      groups.set(key, g);
    }
    g.count += 1;
    if (f.reason !== null && !g.reasons.includes(f.reason)) g.reasons.push(f.reason);
    if (f.exitCode !== null && !g.exitCodes.includes(f.exitCode)) g.exitCodes.push(f.exitCode);
    if (g.tasks.length < maxTasks) g.tasks.push({ taskId: f.taskId, machine: f.machine });
  }
  return [...groups.values()]
    .map((g) => ({ ...g, exitCodes: g.exitCodes.sort((a, b) => a - b) }))
    .sort((a, b) => b.count - a.count || a.pattern.localeCompare(b.pattern));
}
