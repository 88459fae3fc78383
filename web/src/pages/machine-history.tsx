import { ApiError } from '../api';
import { DataTable, IdCell } from '../components/data-table';
import { Freshness } from '../components/freshness';
import { CountsBar } from '../components/ops-counts-bar';
import { Pager, useCursorStack } from '../components/pager';
import { ErrorNote, PriorityBadge, StatusBadge } from '../components/status';
import { ago, between, duration } from '../format';
import { useLive } from '../live';
import { opsApi } from '../ops-api';
import { Link } from '../router';

const SUMMARY_EVERY_MS = 30_000;

/** A machine's own history: every task that ran there and how it went, newest first, page by page. */
export default function MachineHistory({ name }: { name: string }) {
  // Counted over the machine's newest 10,000 tasks: refreshed on a timer, not on every change hint.
  const summary = useLive(() => opsApi.machineSummary(name), [name], { pollMs: SUMMARY_EVERY_MS });
  const pages = useCursorStack<number>();
  const cursor = pages.top;
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
      <DataTable
        rows={tasks.data}
        label={`Tasks on ${name}`}
        testId="machine-tasks"
        columns={[
          'Task',
          'Status',
          'Result',
          { label: 'Priority', className: 'hide-narrow' },
          { label: 'Attempts', className: 'hide-narrow' },
          'Ran for',
          'Created',
          'Command',
        ]}
        empty={`No tasks ${pages.depth > 0 ? 'older than these' : 'ran here yet'}.`}
      >
        {(t) => (
          <tr key={t.taskId} data-task={t.taskId}>
            <IdCell id={t.taskId} to={`/tasks/${t.taskId}`} />
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
        )}
      </DataTable>
      <Pager
        canNewer={pages.depth > 0}
        canOlder={rows.length >= 50}
        onNewer={() => pages.pop()}
        onOlder={() => pages.push(rows.at(-1)?.seq as number)}
      />
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
