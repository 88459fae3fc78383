/** Tasks per status as one stacked bar, failures first, with the numbers in words for screen readers. */
const ORDER = [
  'failed',
  'cancelled',
  'running',
  'assigned',
  'cancelling',
  'retrying',
  'pending',
  'completed',
];

export function CountsBar({ counts, total }: { counts: Partial<Record<string, number>>; total: number }) {
  const parts = ORDER.map((s) => [s, counts[s] ?? 0] as const).filter(([, n]) => n > 0);
  const words = parts.map(([s, n]) => `${n} ${s}`).join(', ');
  return (
    <span className="ops-counts" title={words}>
      <span className="ops-bar" aria-hidden="true">
        {parts.map(([s, n]) => (
          <span key={s} className={`seg bg-${s}`} style={{ width: `${(n / Math.max(1, total)) * 100}%` }} />
        ))}
      </span>
      <span className="small">{words === '' ? 'none' : words}</span>
    </span>
  );
}
