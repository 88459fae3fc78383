import { useState } from 'react';
import { ApiError } from '../api';
import { Freshness } from '../components/freshness';
import { CountsBar } from '../components/ops-counts-bar';
import { ErrorNote, PriorityBadge, StatusBadge } from '../components/status';
import { ago, between, duration, shortId } from '../format';
import { useLive } from '../live';
import { opsApi } from '../ops-api';
import { Link } from '../router';

const SUMMARY_EVERY_MS = 30_000;

/** A machine's own history: every task that ran there and how it went, newest first, page by page. */
export default function MachineHistory({ name }: { name: string }) {
  // Counted over the machine's newest 10,000 tasks: refreshed on a timer, not on every change hint.
  const summary = useLive(() => opsApi.machineSummary(name), [name], { pollMs: SUMMARY_EVERY_MS });
  const [before, setBefore] = useState<number[]>([]);
  const cursor = before.at(-1);
  const tasks = useLive(() => opsApi.machineTasks(name, cursor), [name, cursor], {
    on: ['tasks'],
    pollMs: 10_000,
  });
  if (summary.error instanceof ApiError && summary.error.status === 404) {
    return (
      <>
        <h1>Machine not found</h1>
        <p>
          Machine <code>{name}</code> does not exist, or not in your teams.{' '}
          <Link to="/machines">All machines</Link>
        </p>
      </>
    );
  }
  const s = summary.data;
  const total = s === undefined ? 0 : Object.values(s.counts).reduce((a, b) => a + b, 0);
  const rows = tasks.data ?? [];
  return (
    <>
      <div className="page-head">
        <h1>
          Machine <code>{name}</code>
        </h1>
        <Freshness live={tasks} pollMs={10_000} />
        <Link to={`/search?machine=${encodeURIComponent(name)}`} className="button ops-push">
          Search its output
        </Link>
      </div>
      <ErrorNote error={summary.error ?? tasks.error} />
      {s === undefined ? null : (
        <div className="cards" data-testid="machine-summary">
          <div className="card">
            <h2>
              {s.window.complete ? 'All its tasks' : `Its last ${s.window.counted.toLocaleString()} tasks`}
            </h2>
            <p className="big">{total}</p>
            <CountsBar counts={s.counts} total={total} />
            {s.window.complete ? null : (
              <p className="small" data-testid="summary-window">
                since {ago(s.window.since)}; older tasks are not counted
              </p>
            )}
          </div>
          <div className="card">
            <h2>Last {s.recent.ended} ended</h2>
            <p className="big">
              {s.recent.ended === 0 ? '—' : `${Math.round((s.recent.completed / s.recent.ended) * 100)} %`}
            </p>
            <p className="small">
              completed · {s.recent.failed} failed · {s.recent.cancelled} cancelled
            </p>
            <Streak statuses={s.recent.statuses} />
          </div>
          <div className="card">
            <h2>Typical run</h2>
            <p className="big">{s.recent.medianRunMs === null ? '—' : duration(s.recent.medianRunMs)}</p>
            <p className="small">median of its recent completed tasks</p>
          </div>
          <div className="card">
            <h2>Last failure</h2>
            <p className="big">{s.recent.lastFailureAt === null ? 'none' : ago(s.recent.lastFailureAt)}</p>
            <p className="small">team {s.team}</p>
          </div>
        </div>
      )}
      <h2>Tasks on {name}</h2>
      <div className="table-wrap">
        <table aria-label={`Tasks on ${name}`} data-testid="machine-tasks">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Status</th>
              <th scope="col">Result</th>
              <th scope="col" className="hide-narrow">
                Priority
              </th>
              <th scope="col" className="hide-narrow">
                Attempts
              </th>
              <th scope="col">Ran for</th>
              <th scope="col">Created</th>
              <th scope="col">Command</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.taskId} data-task={t.taskId}>
                <td>
                  <Link to={`/tasks/${t.taskId}`} title={t.taskId}>
                    <code>{shortId(t.taskId)}</code>
                  </Link>
                </td>
                <td>
                  <StatusBadge status={t.status} />
                </td>
                <td>{t.exitCode === null ? (t.signal ?? t.reason ?? '') : `exit ${t.exitCode}`}</td>
                <td className="hide-narrow">
                  <PriorityBadge priority={t.priority} />
                </td>
                <td className="hide-narrow">{t.attempts}</td>
                <td>{between(t.startedAt, t.finishedAt)}</td>
                <td title={t.createdAt ?? ''}>{ago(t.createdAt)}</td>
                <td className="command">
                  <code>{t.command}</code>
                </td>
              </tr>
            ))}
            {tasks.data !== undefined && rows.length === 0 ? (
              <tr>
                <td colSpan={8} className="muted">
                  No tasks {before.length > 0 ? 'older than these' : 'ran here yet'}.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={before.length === 0} onClick={() => setBefore(before.slice(0, -1))}>
          ← Newer
        </button>
        <button
          type="button"
          disabled={rows.length < 50}
          onClick={() => setBefore([...before, rows.at(-1)?.seq as number])}
        >
          Older →
        </button>
      </nav>
    </>
  );
}

/** The last ended tasks as a row of dots, newest first: a run of failures shows at a glance. */
function Streak({ statuses }: { statuses: string[] }) {
  const shown = statuses.slice(0, 30);
  return (
    <p className="ops-streak" role="img" aria-label={`Newest first: ${shown.join(', ')}`}>
      {shown.map((s, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: positions in a fixed row
        <span key={i} className={`dot bg-${s}`} title={s} />
      ))}
    </p>
  );
}
