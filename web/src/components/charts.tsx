/** Small SVG charts without a library: a sparkline and a line chart with time on the x axis. */

export function Sparkline({
  values,
  max,
  label,
  width = 120,
  height = 28,
}: {
  values: (number | null)[];
  max?: number;
  label: string;
  width?: number;
  height?: number;
}) {
  const known = values.filter((v): v is number => v !== null);
  if (known.length < 2)
    return <span className="muted small spark-empty">{known.length === 0 ? 'no data' : 'collecting…'}</span>;
  const top = max ?? Math.max(...known, 1e-9);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values
    .map((v, i) =>
      v === null
        ? null
        : `${(i * step).toFixed(1)},${(height - (Math.min(v, top) / top) * (height - 2) - 1).toFixed(1)}`,
    )
    .filter((p) => p !== null)
    .join(' ');
  return (
    <svg
      className="spark"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={label}
    >
      <title>{label}</title>
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}

export interface Series {
  name: string;
  className: string;
  points: { t: number; v: number }[];
  format: (v: number) => string;
}

export function LineChart({
  series,
  height = 160,
  label,
  empty = 'Collecting samples: the chart fills in while this page is open.',
}: {
  series: Series[];
  height?: number;
  label: string;
  /** Said instead of the chart while the first series has fewer than two points. */
  empty?: string;
}) {
  const width = 600;
  const all = series.flatMap((s) => s.points);
  if ((series[0]?.points.length ?? 0) < 2) return <p className="muted">{empty}</p>;
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(...all.map((p) => p.t), t0 + 1);
  const pad = 4;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={label}>
        <title>{label}</title>
        {series.map((s) => {
          const top = Math.max(...s.points.map((p) => p.v), 1);
          const pts = s.points
            .map((p) => {
              const x = ((p.t - t0) / (t1 - t0)) * width;
              const y = height - pad - (p.v / top) * (height - 2 * pad);
              return `${x.toFixed(1)},${y.toFixed(1)}`;
            })
            .join(' ');
          return (
            <polyline
              key={s.name}
              className={s.className}
              points={pts}
              fill="none"
              strokeWidth="2"
              vectorEffect="non-scaling-stroke"
            />
          );
        })}
      </svg>
      <figcaption>
        {series.map((s) => {
          const last = s.points.at(-1);
          const top = Math.max(...s.points.map((p) => p.v));
          return (
            <span key={s.name} className={`legend ${s.className}`}>
              {s.name}: {last === undefined ? '—' : s.format(last.v)} now,{' '}
              {last === undefined ? '—' : s.format(top)} max
            </span>
          );
        })}
        <span className="muted"> · {shown(t1 - t0)} shown</span>
      </figcaption>
    </figure>
  );
}

/** "45 min", "6 h", "7 d". */
function shown(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 120) return `${min} min`;
  const h = Math.round(min / 60);
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} d`;
}
