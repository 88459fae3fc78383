import { api } from '../api';
import { Freshness } from '../components/freshness';
import { QueueHistoryChart } from '../components/queue-history-chart';
import { ErrorNote } from '../components/status';
import { duration } from '../format';
import { useLive } from '../live';
import { waitingOf } from '../queue-history';
import { Link } from '../router';
import type { QueueStats } from '../types';

const PRIORITIES = [
  [1, 'critical'],
  [2, 'high'],
  [3, 'normal'],
  [4, 'background'],
  [5, 'low'],
] as const;

export default function Overview() {
  const queue = useLive<QueueStats>(() => api.queueStats(), [], {
    on: ['queue'],
    fromEvent: (_e, d) => (d as { stats: QueueStats }).stats,
  });
  const failures = useLive(() => api.failures(24), [], { on: ['tasks'], pollMs: 30_000 });
  const machines = useLive(() => api.machines(), [], { pollMs: 15_000 });
  const bridges = useLive(() => api.bridges(), [], { pollMs: 15_000 });

  const stats = queue.data;

  const online = machines.data?.filter((m) => m.status === 'online').length ?? 0;
  const offline = machines.data?.filter((m) => m.status === 'offline').length ?? 0;
  const unknown = machines.data?.filter((m) => m.status === 'unknown').length ?? 0;
  const bridgesOnline = bridges.data?.filter((b) => b.online).length ?? 0;

  return (
    <>
      <div className="page-head">
        <h1>Overview</h1>
        <Freshness live={queue} />
      </div>
      <ErrorNote error={queue.error} />
      <section className="cards" aria-label="Queue">
        <article className="card wide">
          <h2>Waiting, per priority</h2>
          <ul className="prio-counts">
            {PRIORITIES.map(([p, label]) => (
              <li key={p}>
                <Link to={`/tasks?status=pending&priority=${p}`} title={`pending tasks of priority ${p}`}>
                  <span className={`badge p${p}`}>{p}</span> {label}
                  <strong data-testid={`pending-${p}`}>{stats?.pending[String(p)] ?? '…'}</strong>
                </Link>
              </li>
            ))}
          </ul>
          <p className="muted">
            Oldest waiting:{' '}
            {stats === undefined || stats.oldestPendingAgeMs === null
              ? '—'
              : duration(stats.oldestPendingAgeMs)}
          </p>
        </article>
        <Metric
          label="Running"
          to="/tasks?status=running"
          value={stats === undefined ? undefined : stats.running}
          testId="running"
        />
        <Metric label="Retrying" to="/tasks?status=retrying" value={stats?.retrying} testId="retrying" />
        <Metric
          label="Failed in the last 24 h"
          to="/tasks?status=failed"
          value={failures.data?.failed}
          testId="failed-24h"
          alarm={(failures.data?.failed ?? 0) > 0}
        />
        <Metric
          label="Machines online"
          to="/machines"
          value={machines.data === undefined ? undefined : `${online} / ${machines.data.length}`}
          note={`${offline} offline${unknown > 0 ? `, ${unknown} not reached yet` : ''}`}
          alarm={offline > 0}
          testId="machines"
        />
        <Metric
          label="Bridges online"
          value={bridges.data === undefined ? undefined : `${bridgesOnline} / ${bridges.data.length}`}
          note={bridges.data
            ?.filter((b) => !b.online)
            .map((b) => `${b.name} (${b.region}) away`)
            .join(', ')}
          alarm={bridges.data !== undefined && bridgesOnline < bridges.data.length}
          testId="bridges"
        />
      </section>

      <section aria-labelledby="chart-h">
        <h2 id="chart-h">Queue over time</h2>
        <QueueHistoryChart live={stats} />
      </section>

      <section aria-labelledby="busy-h">
        <h2 id="busy-h">Busiest machines</h2>
        {stats === undefined || stats.busiestMachines.length === 0 ? (
          <p className="muted">{stats === undefined ? 'Loading…' : 'Nothing runs or waits.'}</p>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Machine</th>
                  <th scope="col">Team</th>
                  <th scope="col">Running / slots</th>
                  <th scope="col">Waiting</th>
                </tr>
              </thead>
              <tbody>
                {stats.busiestMachines.map((m) => (
                  <tr key={m.machine}>
                    <td>
                      <Link to={`/tasks?machine=${encodeURIComponent(m.machine)}`}>{m.machine}</Link>
                    </td>
                    <td>{m.team}</td>
                    <td>
                      {m.running} / {m.concurrency}
                    </td>
                    <td>{m.pending}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p className="muted small">Total waiting: {stats === undefined ? '…' : waitingOf(stats)}</p>
      </section>
    </>
  );
}

function Metric(props: {
  label: string;
  value: number | string | undefined;
  to?: string;
  note?: string | undefined;
  alarm?: boolean;
  testId: string;
}) {
  const body = (
    <>
      <h2>{props.label}</h2>
      <strong className="big" data-testid={props.testId}>
        {props.value ?? '…'}
      </strong>
      {props.note === undefined || props.note === '' ? null : <p className="muted small">{props.note}</p>}
    </>
  );
  return (
    <article className={`card${props.alarm === true ? ' alarm' : ''}`}>
      {props.to === undefined ? (
        body
      ) : (
        <Link to={props.to} className="card-link">
          {body}
        </Link>
      )}
    </article>
  );
}
