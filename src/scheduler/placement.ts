/** A machine as seen when placing a selector-targeted task. */
export interface PlacementCandidate {
  name: string;
  online: boolean;
  labels: Record<string, string>;
  running: number;
  concurrency: number;
  cpuPercent: number | null;
  memoryUsedRatio: number | null;
}

export type Selector = Record<string, string>;

export function matchesSelector(labels: Record<string, string>, selector: Selector): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/**
 * The matching online machine with a free slot that is least loaded: fewest
 * running tasks, then lowest CPU use, then lowest memory use, then name (so
 * the choice is deterministic). Unknown load counts as idle.
 */
export function pickLeastLoaded<T extends PlacementCandidate>(
  machines: readonly T[],
  selector: Selector,
): T | null {
  let best: T | null = null;
  for (const m of machines) {
    if (!m.online || m.running >= m.concurrency || !matchesSelector(m.labels, selector)) continue;
    if (best === null || compareLoad(m, best) < 0) best = m;
  }
  return best;
}

function compareLoad(a: PlacementCandidate, b: PlacementCandidate): number {
  return (
    a.running - b.running ||
    (a.cpuPercent ?? 0) - (b.cpuPercent ?? 0) ||
    (a.memoryUsedRatio ?? 0) - (b.memoryUsedRatio ?? 0) ||
    a.name.localeCompare(b.name)
  );
}
