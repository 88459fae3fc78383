/**
 * "Is this run slower than usual?": a running task against the earlier
 * completed runs of the same command on the same machine. Pure and free of
 * imports, so the dashboard judges with the same rule as the server (it
 * imports this file) while the clock runs on.
 */

/** Earlier runs read per task, newest first. */
export const USUAL_RUNS = 20;
/** Fewer earlier runs than this: no verdict. */
export const MIN_RUNS = 3;
/** Slower: at least this many times the usual run time … */
export const SLOWER_FACTOR = 1.5;
/** … and at least this much longer (a 2 s job taking 4 s is not news). */
export const SLOWER_MARGIN_MS = 5_000;

export interface RunSummary {
  /** Earlier completed runs counted. */
  runs: number;
  /** Their median run time: the usual run time (null without runs). */
  usualMs: number | null;
  meanMs: number | null;
}

export type UsualVerdict = 'SLOWER' | 'AS_USUAL' | 'TOO_FEW_RUNS' | 'NO_EARLIER_RUNS' | 'NOT_RUNNING';

export interface UsualJudgement extends RunSummary {
  verdict: UsualVerdict;
  slower: boolean;
  /** How long the current attempt has run; null when it does not run. */
  elapsedMs: number | null;
  /** elapsed / usual, when both are known. */
  ratio: number | null;
  text: string;
}

/** Median and mean of run times (ms). */
export function summariseRuns(runsMs: readonly number[]): RunSummary {
  const sorted = runsMs.filter((v) => Number.isFinite(v) && v >= 0).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { runs: 0, usualMs: null, meanMs: null };
  const mid = Math.floor(n / 2);
  const usualMs = n % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  const meanMs = sorted.reduce((a, b) => a + b, 0) / n;
  return { runs: n, usualMs: Math.round(usualMs), meanMs: Math.round(meanMs) };
}

/**
 * The verdict for a task: `elapsedMs` is how long its current attempt has
 * been running (null when it is not running).
 */
export function judgeRun(summary: RunSummary, elapsedMs: number | null): UsualJudgement {
  const { runs, usualMs } = summary;
  const base = { ...summary, elapsedMs, slower: false };
  const over = `${runs} run${runs === 1 ? '' : 's'}`;
  if (elapsedMs === null) {
    return {
      ...base,
      ratio: null,
      verdict: 'NOT_RUNNING',
      text:
        usualMs === null
          ? 'no earlier completed run of this command on this machine'
          : `usually takes ${formatMs(usualMs)} (${over})`,
    };
  }
  const elapsed = Math.max(0, elapsedMs);
  if (usualMs === null) {
    return {
      ...base,
      elapsedMs: elapsed,
      ratio: null,
      verdict: 'NO_EARLIER_RUNS',
      text: `running ${formatMs(elapsed)}; no earlier completed run of this command on this machine`,
    };
  }
  const ratio = usualMs > 0 ? elapsed / usualMs : null;
  if (runs < MIN_RUNS) {
    return {
      ...base,
      elapsedMs: elapsed,
      ratio,
      verdict: 'TOO_FEW_RUNS',
      text: `running ${formatMs(elapsed)}; usual ${formatMs(usualMs)} over ${over}, too few to compare`,
    };
  }
  const slower = elapsed >= usualMs * SLOWER_FACTOR && elapsed - usualMs >= SLOWER_MARGIN_MS;
  return {
    ...base,
    elapsedMs: elapsed,
    ratio,
    slower,
    verdict: slower ? 'SLOWER' : 'AS_USUAL',
    text: !slower
      ? `running ${formatMs(elapsed)}, within the usual ${formatMs(usualMs)} (${over})`
      : ratio === null
        ? `running ${formatMs(elapsed)}, usually done at once (${over})`
        : `running ${formatRatio(ratio)} longer than usual (usual ${formatMs(usualMs)} over ${over})`,
  };
}

/** "2×", "2.5×", "12×". */
export function formatRatio(ratio: number): string {
  if (ratio >= 10) return `${Math.round(ratio)}×`;
  return `${Number(ratio.toFixed(1))}×`;
}

/** "850 ms", "40 s", "3 min 5 s", "2 h 10 min". */
export function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1_000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
}
