import { invalid } from './errors.js';
import { PRIORITY_LABELS, type Priority } from './types.js';

const BY_LABEL = new Map<string, Priority>(
  Object.entries(PRIORITY_LABELS).map(([num, label]) => [label, Number(num) as Priority]),
);

/** Accepts `1`…`5` or a label (`critical`, `high`, `normal`, `background`, `low`). */
export function parsePriority(input: string | number): Priority {
  const text = String(input).trim().toLowerCase();
  const byLabel = BY_LABEL.get(text);
  if (byLabel !== undefined) return byLabel;
  if (/^[1-5]$/.test(text)) return Number(text) as Priority;
  throw invalid(
    `priority must be 1-5 or one of ${[...BY_LABEL.keys()].join(', ')}; got '${input}'`,
    'priority',
  );
}

export function priorityLabel(priority: Priority): string {
  return `${priority} (${PRIORITY_LABELS[priority]})`;
}
